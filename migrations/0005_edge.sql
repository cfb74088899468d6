-- Mandant schema, version 5: the tenant edge (docs/edge.md). Node-network
-- addresses (tenant IPAM), external addresses, cluster endpoints, edge
-- placement and its observed state, egress policies and the egress log.

-- Machines are control planes or workers; HAProxy in the edge sends an
-- endpoint's connections to its cluster's control planes.
ALTER TABLE machines
  ADD COLUMN role text NOT NULL DEFAULT 'WORKER' CHECK (role IN ('CONTROL_PLANE', 'WORKER'));

-- A cluster's Kubernetes API endpoint on its tenant's edge. Its addresses
-- are rows of tenant_node_addresses (internal) and external_addresses
-- (external) that go with it.
CREATE TABLE cluster_endpoints (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  cluster_id    bigint NOT NULL UNIQUE REFERENCES clusters (id) ON DELETE CASCADE,
  tenant_id     bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  port          integer NOT NULL DEFAULT 6443 CHECK (port BETWEEN 1 AND 65535),
  -- Who may connect to the external address, besides mandantd.
  allowed_cidrs cidr[] NOT NULL DEFAULT '{}' CHECK (cardinality(allowed_cidrs) <= 256),
  create_time   timestamptz NOT NULL DEFAULT now()
);

-- The edge of a tenant: one row while the tenant has machines.
CREATE TABLE edges (
  tenant_id        bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  -- mandantd.yaml edge.external_networks[].name.
  external_network text NOT NULL CHECK (external_network ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
  create_time      timestamptz NOT NULL DEFAULT now()
);

-- The copies of an edge, on distinct hosts; two for a redundant edge.
-- A host with an edge copy cannot be deleted (RESTRICT).
CREATE TABLE edge_instances (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   bigint NOT NULL REFERENCES edges (tenant_id) ON DELETE CASCADE,
  host_id     bigint NOT NULL REFERENCES hosts (id) ON DELETE RESTRICT,
  ordinal     smallint NOT NULL CHECK (ordinal IN (0, 1)),
  UNIQUE (tenant_id, ordinal),
  UNIQUE (tenant_id, host_id),

  -- Observed, relayed by the host's agent (EdgeStatus).
  vrrp_state             text NOT NULL DEFAULT 'UNSPECIFIED',
  -- [{"name", "pid", "running"}] and [{"cluster", "healthy_backends", ...}].
  processes              jsonb NOT NULL DEFAULT '[]',
  endpoints              jsonb NOT NULL DEFAULT '[]',
  egress_events_dropped  bigint NOT NULL DEFAULT 0 CHECK (egress_events_dropped >= 0),
  error                  text NOT NULL DEFAULT '',
  status_time            timestamptz
);
CREATE INDEX edge_instances_host ON edge_instances (host_id);

-- Every address given out in a tenant's node network, whatever for; the
-- primary key makes double allocation impossible, the trigger below keeps
-- every address inside the tenant's node CIDR. Each row goes with its owner.
CREATE TABLE tenant_node_addresses (
  tenant_id        bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  address          inet NOT NULL CHECK (family(address) = 4 AND masklen(address) = 32),
  PRIMARY KEY (tenant_id, address),
  purpose          text NOT NULL CHECK (purpose IN ('GATEWAY', 'EDGE', 'ENDPOINT', 'MACHINE')),
  edge_instance_id bigint UNIQUE REFERENCES edge_instances (id) ON DELETE CASCADE,
  endpoint_id      bigint UNIQUE REFERENCES cluster_endpoints (id) ON DELETE CASCADE,
  machine_id       uuid UNIQUE REFERENCES machines (machine_id) ON DELETE CASCADE,
  CHECK ((purpose = 'EDGE') = (edge_instance_id IS NOT NULL)),
  CHECK ((purpose = 'ENDPOINT') = (endpoint_id IS NOT NULL)),
  CHECK ((purpose = 'MACHINE') = (machine_id IS NOT NULL))
);
CREATE UNIQUE INDEX tenant_node_addresses_one_gateway
  ON tenant_node_addresses (tenant_id) WHERE purpose = 'GATEWAY';

CREATE FUNCTION tenant_node_addresses_in_cidr() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  net cidr;
BEGIN
  SELECT cidr INTO net FROM tenant_cidrs WHERE tenant_id = NEW.tenant_id AND purpose = 'NODE';
  IF net IS NULL OR NOT (NEW.address << net) OR host(NEW.address) = host(network(net))
     OR host(NEW.address) = host(broadcast(net)) THEN
    RAISE EXCEPTION 'address % is not a usable address of the tenant''s node network %',
      NEW.address, net USING ERRCODE = 'check_violation',
      CONSTRAINT = 'tenant_node_addresses_in_cidr';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER tenant_node_addresses_in_cidr BEFORE INSERT OR UPDATE ON tenant_node_addresses
  FOR EACH ROW EXECUTE FUNCTION tenant_node_addresses_in_cidr();

-- The gateway of every existing tenant: the first usable address.
INSERT INTO tenant_node_addresses (tenant_id, address, purpose)
  SELECT tenant_id, set_masklen(network(cidr) + 1, 32), 'GATEWAY'
  FROM tenant_cidrs WHERE purpose = 'NODE';

-- Addresses on the provider's external networks, unique over all of them
-- (the primary key) and deleted with their owner.
CREATE TABLE external_addresses (
  address     inet PRIMARY KEY CHECK (family(address) = 4 AND masklen(address) = 32),
  network     text NOT NULL,
  tenant_id   bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  purpose     text NOT NULL CHECK (purpose IN ('EGRESS', 'ENDPOINT')),
  endpoint_id bigint UNIQUE REFERENCES cluster_endpoints (id) ON DELETE CASCADE,
  CHECK ((purpose = 'ENDPOINT') = (endpoint_id IS NOT NULL))
);
CREATE UNIQUE INDEX external_addresses_one_egress
  ON external_addresses (tenant_id) WHERE purpose = 'EGRESS';

-- Every tenant has an egress policy from its creation; the default lets
-- everything out.
CREATE TABLE egress_policies (
  tenant_id      bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  default_action text NOT NULL DEFAULT 'ALLOW' CHECK (default_action IN ('ALLOW', 'DENY')),
  -- EgressRule messages in protobuf's JSON mapping, in order; validated by
  -- the API before they are written.
  rules          jsonb NOT NULL DEFAULT '[]'
                 CHECK (jsonb_typeof(rules) = 'array' AND jsonb_array_length(rules) <= 256),
  generation     bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
  update_time    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO egress_policies (tenant_id) SELECT id FROM tenants;

-- New outbound connections seen by the edges, one partition per day (UTC);
-- mandantd creates the next days' partitions ahead and drops whole
-- partitions past the retention, so pruning never deletes row by row.
-- tenant_id has no foreign key (partitioned tables would cascade row by
-- row): tenant ids are never reused, so a deleted tenant's events are never
-- shown to anyone but provider admins until they are pruned.
CREATE TABLE egress_events (
  tenant_id           bigint NOT NULL,
  time                timestamptz NOT NULL,
  host_id             bigint NOT NULL,
  source_address      inet NOT NULL,
  machine_id          uuid,
  destination_address inet NOT NULL,
  destination_port    integer NOT NULL CHECK (destination_port BETWEEN 0 AND 65535),
  protocol            smallint NOT NULL CHECK (protocol BETWEEN 0 AND 255),
  allowed             boolean NOT NULL
) PARTITION BY RANGE (time);
CREATE INDEX egress_events_tenant_time ON egress_events (tenant_id, time DESC);

-- Wakes the sessions of every host whose desired state involves a tenant:
-- hosts with its machines and hosts with a copy of its edge.
CREATE FUNCTION notify_tenant_hosts(t bigint, also bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  h bigint;
BEGIN
  FOR h IN
    SELECT host_id FROM machines WHERE tenant_id = t AND host_id IS NOT NULL
    UNION SELECT host_id FROM edge_instances WHERE tenant_id = t
    UNION SELECT unnest(also)
  LOOP
    IF h IS NOT NULL THEN
      PERFORM pg_notify('mandant_host_spec', h::text);
    END IF;
  END LOOP;
END;
$$;

-- A machine change also wakes the edge placement of its tenant
-- (controller/edge/edge_reconciler.h); the payload is the tenant's row id.
CREATE OR REPLACE FUNCTION machines_notify_hosts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM notify_tenant_hosts(OLD.tenant_id, ARRAY[OLD.host_id]);
    PERFORM pg_notify('mandant_tenant_edge', OLD.tenant_id::text);
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM notify_tenant_hosts(NEW.tenant_id, ARRAY[NEW.host_id]);
    PERFORM pg_notify('mandant_tenant_edge', NEW.tenant_id::text);
  ELSE
    PERFORM notify_tenant_hosts(NEW.tenant_id, ARRAY[OLD.host_id, NEW.host_id]);
    PERFORM pg_notify('mandant_tenant_edge', NEW.tenant_id::text);
  END IF;
  RETURN NULL;
END;
$$;

CREATE FUNCTION edge_instances_notify_hosts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM notify_tenant_hosts(OLD.tenant_id, ARRAY[OLD.host_id]);
  ELSE
    PERFORM notify_tenant_hosts(NEW.tenant_id, '{}');
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER edge_instances_notify AFTER INSERT OR DELETE OR UPDATE OF host_id
  ON edge_instances FOR EACH ROW EXECUTE FUNCTION edge_instances_notify_hosts();

-- Endpoints and egress policies reach the edge hosts' specs.
CREATE FUNCTION tenant_rows_notify_hosts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM notify_tenant_hosts(OLD.tenant_id, '{}');
  ELSE
    PERFORM notify_tenant_hosts(NEW.tenant_id, '{}');
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER cluster_endpoints_notify AFTER INSERT OR DELETE OR UPDATE OF port, allowed_cidrs
  ON cluster_endpoints FOR EACH ROW EXECUTE FUNCTION tenant_rows_notify_hosts();
CREATE TRIGGER egress_policies_notify AFTER UPDATE
  ON egress_policies FOR EACH ROW EXECUTE FUNCTION tenant_rows_notify_hosts();

DROP TRIGGER machines_notify ON machines;
CREATE TRIGGER machines_notify AFTER INSERT OR DELETE OR UPDATE OF host_id, power_state, role
  ON machines FOR EACH ROW EXECUTE FUNCTION machines_notify_hosts();
