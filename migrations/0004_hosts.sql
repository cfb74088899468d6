-- Mandant schema, version 4: hypervisor hosts, their agents' enrollment and
-- sessions, and the machines (VMs) placed on them, from which mandantd
-- derives each host's desired state (agent.proto, HostSpec).

CREATE TABLE hosts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid              uuid NOT NULL UNIQUE,
  name             text NOT NULL UNIQUE
                   CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
  -- Where other hosts send this host's VXLAN traffic; chosen by the
  -- provider, never by the agent.
  underlay_address inet NOT NULL UNIQUE CHECK (masklen(underlay_address) IN (32, 128)),
  cordoned         boolean NOT NULL DEFAULT false,
  cordon_reason    text NOT NULL DEFAULT '' CHECK (length(cordon_reason) <= 200),
  generation       bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),

  -- Reported by the agent (Hello).
  capacity_vcpus      integer NOT NULL DEFAULT 0 CHECK (capacity_vcpus >= 0),
  capacity_memory_mib bigint NOT NULL DEFAULT 0 CHECK (capacity_memory_mib >= 0),
  capacity_disk_gib   bigint NOT NULL DEFAULT 0 CHECK (capacity_disk_gib >= 0),
  underlay_mtu        integer NOT NULL DEFAULT 0 CHECK (underlay_mtu >= 0),
  agent_version       text NOT NULL DEFAULT '',
  libvirt_version     text NOT NULL DEFAULT '',
  qemu_version        text NOT NULL DEFAULT '',
  -- [{"name": ..., "sha256": ..., "size_bytes": ...}], ordered by name.
  base_images         jsonb NOT NULL DEFAULT '[]',

  -- The agent's current client certificate (pki_certificates.serial); a new
  -- enrollment revokes the previous one.
  certificate_serial  text,
  enroll_time         timestamptz,

  -- The agent's stream. session_id names the stream that holds the host, on
  -- whichever mandantd replica; a newer stream takes it over.
  session_id          uuid,
  connect_time        timestamptz,
  disconnect_time     timestamptz,
  last_seen_time      timestamptz,
  -- A host is Ready only while a stream holds it and this is in the future.
  lease_expire_time   timestamptz,
  -- Why the agent's latest stream was refused (a Connected condition
  -- reason such as UnderlayAddressMismatch, and its message); cleared when
  -- a stream is accepted.
  refusal_reason      text NOT NULL DEFAULT '',
  refusal_message     text NOT NULL DEFAULT '',
  refusal_time        timestamptz,

  -- Desired state: spec_version grows whenever the HostSpec derived from the
  -- rows below changes (spec_sha256 is the hash of its content).
  spec_version         bigint NOT NULL DEFAULT 0 CHECK (spec_version >= 0),
  spec_sha256          bytea,
  -- Observed state (HostStatus).
  applied_spec_version bigint NOT NULL DEFAULT 0 CHECK (applied_spec_version >= 0),
  host_errors          jsonb NOT NULL DEFAULT '[]',
  -- TenantNetworkStatus of every Mandant network on the host, as JSON.
  network_status       jsonb NOT NULL DEFAULT '[]',
  status_time          timestamptz,

  create_time      timestamptz NOT NULL DEFAULT now(),
  update_time      timestamptz NOT NULL DEFAULT now()
);

-- One bootstrap token per host at a time. Only its SHA-256 is looked up; the
-- token itself is kept sealed (under the KEK) until it is used or expires,
-- so that a retried CreateHost can return it again.
CREATE TABLE host_bootstrap_tokens (
  host_id           bigint PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
  token_sha256      bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
  sealed_token      bytea,
  kek_id            text,
  CHECK ((sealed_token IS NULL) = (kek_id IS NULL)),
  create_time       timestamptz NOT NULL DEFAULT now(),
  expire_time       timestamptz NOT NULL,
  used_time         timestamptz,
  -- The Enroll call that used the token, and what it returned, so that the
  -- agent's retry of that call gets the same certificate.
  enroll_request_id uuid,
  enroll_csr_sha256 bytea,
  certificate_pem   text,
  chain_pem         text,
  CHECK ((used_time IS NULL) = (certificate_pem IS NULL))
);

-- VMs. A row is written by the cluster reconciler (placed on a host in the
-- same transaction that decides it); the agent of that host creates it.
-- Nothing of a machine changes but power_state and the observed columns: a
-- changed machine is a new row with a new machine_id.
CREATE TABLE machines (
  machine_id        uuid PRIMARY KEY,
  tenant_id         bigint NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  cluster_id        bigint NOT NULL REFERENCES clusters (id) ON DELETE RESTRICT,
  name              text NOT NULL CHECK (name ~ '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
  UNIQUE (cluster_id, name),
  host_id           bigint REFERENCES hosts (id) ON DELETE RESTRICT,
  vcpus             integer NOT NULL CHECK (vcpus BETWEEN 1 AND 64),
  memory_mib        bigint NOT NULL CHECK (memory_mib BETWEEN 128 AND 262144),
  disk_gib          bigint NOT NULL CHECK (disk_gib BETWEEN 1 AND 2048),
  base_image        text NOT NULL CHECK (base_image ~ '^[a-zA-Z0-9._-]{1,100}$'),
  base_image_sha256 text NOT NULL CHECK (base_image_sha256 ~ '^[0-9a-f]{64}$'),
  -- The NIC on the tenant's node network; unique within the tenant.
  node_mac          macaddr NOT NULL,
  UNIQUE (tenant_id, node_mac),
  power_state       text NOT NULL DEFAULT 'ON' CHECK (power_state IN ('ON', 'OFF')),
  -- The NoCloud seed (agent.proto, Seed) holds secrets: sealed under the KEK
  -- for this machine_id.
  sealed_seed       bytea NOT NULL,
  kek_id            text NOT NULL,

  -- Observed, relayed by the host's agent (VmStatus).
  vm_state          text NOT NULL DEFAULT 'UNSPECIFIED',
  vm_error          text NOT NULL DEFAULT '',
  guest_phase       text NOT NULL DEFAULT 'UNSPECIFIED',
  guest_message     text NOT NULL DEFAULT '',
  guest_time        timestamptz,
  status_time       timestamptz,
  create_time       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX machines_host ON machines (host_id, machine_id);
CREATE INDEX machines_tenant_host ON machines (tenant_id, host_id);

-- Wakes the mandantd replicas holding the streams of the hosts whose desired
-- state a machine change touches: its own host and every host of the same
-- tenant (their VXLAN flood lists name each other). The payload is a host id.
CREATE FUNCTION machines_notify_hosts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t bigint;
  h bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    t := OLD.tenant_id;
  ELSE
    t := NEW.tenant_id;
  END IF;
  FOR h IN
    SELECT DISTINCT host_id FROM machines WHERE tenant_id = t AND host_id IS NOT NULL
    UNION SELECT OLD.host_id WHERE TG_OP <> 'INSERT' AND OLD.host_id IS NOT NULL
    UNION SELECT NEW.host_id WHERE TG_OP <> 'DELETE' AND NEW.host_id IS NOT NULL
  LOOP
    PERFORM pg_notify('mandant_host_spec', h::text);
  END LOOP;
  RETURN NULL;
END;
$$;
CREATE TRIGGER machines_notify AFTER INSERT OR DELETE OR UPDATE OF host_id, power_state
  ON machines FOR EACH ROW EXECUTE FUNCTION machines_notify_hosts();
