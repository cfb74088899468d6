-- Mandant schema, version 1: tenants with their network allocation, the
-- minimal cluster table that tenant deletion checks, API tokens, request
-- idempotency and the audit log.

CREATE TABLE tenants (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid             uuid NOT NULL UNIQUE,
  name            text NOT NULL UNIQUE
                  CHECK (name ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
  display_name    text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
  state           text NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED')),
  generation      bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
  network_mode    text NOT NULL CHECK (network_mode IN ('VXLAN', 'VLAN')),
  -- One segment per tenant, never shared: the unique constraints are what
  -- makes concurrent allocations safe.
  vni             integer CONSTRAINT tenants_vni_key UNIQUE
                  CHECK (vni BETWEEN 1 AND 16777215),
  vlan_id         integer CONSTRAINT tenants_vlan_id_key UNIQUE
                  CHECK (vlan_id BETWEEN 1 AND 4094),
  CHECK ((network_mode = 'VXLAN') = (vni IS NOT NULL)),
  CHECK ((network_mode = 'VLAN') = (vlan_id IS NOT NULL)),
  quota_clusters    bigint NOT NULL CHECK (quota_clusters >= 0),
  quota_nodes       bigint NOT NULL CHECK (quota_nodes >= 0),
  quota_vcpus       bigint NOT NULL CHECK (quota_vcpus >= 0),
  quota_memory_mib  bigint NOT NULL CHECK (quota_memory_mib >= 0),
  quota_storage_gib bigint NOT NULL CHECK (quota_storage_gib >= 0),
  usage_clusters    bigint NOT NULL DEFAULT 0 CHECK (usage_clusters >= 0),
  usage_nodes       bigint NOT NULL DEFAULT 0 CHECK (usage_nodes >= 0),
  usage_vcpus       bigint NOT NULL DEFAULT 0 CHECK (usage_vcpus >= 0),
  usage_memory_mib  bigint NOT NULL DEFAULT 0 CHECK (usage_memory_mib >= 0),
  usage_storage_gib bigint NOT NULL DEFAULT 0 CHECK (usage_storage_gib >= 0),
  create_time     timestamptz NOT NULL DEFAULT now(),
  update_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_state_name ON tenants (state, name);

-- Every CIDR given to any tenant, for any purpose. The exclusion constraint
-- guarantees that no two allocations overlap, whatever the application does.
CREATE TABLE tenant_cidrs (
  tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  purpose   text NOT NULL CHECK (purpose IN ('NODE', 'STORAGE')),
  cidr      cidr NOT NULL,
  PRIMARY KEY (tenant_id, purpose),
  CONSTRAINT tenant_cidrs_no_overlap EXCLUDE USING gist (cidr inet_ops WITH &&)
);

-- Clusters of a tenant. The cluster lifecycle adds its columns in a later
-- migration; tenant deletion already refuses while rows exist here.
CREATE TABLE clusters (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid         uuid NOT NULL UNIQUE,
  tenant_id   bigint NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  name        text NOT NULL CHECK (name ~ '^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$'),
  generation  bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

-- Bearer tokens. Only the SHA-256 of a token is stored. A tenant's tokens
-- go with the tenant, so a tenant created later under the same name never
-- inherits them.
CREATE TABLE api_tokens (
  id           uuid PRIMARY KEY,
  subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
  role         text NOT NULL
               CHECK (role IN ('PROVIDER_ADMIN', 'TENANT_ADMIN', 'TENANT_VIEWER')),
  tenant_id    bigint REFERENCES tenants (id) ON DELETE CASCADE,
  CHECK ((role = 'PROVIDER_ADMIN') = (tenant_id IS NULL)),
  token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
  create_time  timestamptz NOT NULL DEFAULT now(),
  expire_time  timestamptz NOT NULL,
  revoke_time  timestamptz
);

-- Results of mutating requests that carried a request_id, so that a retry
-- returns the first answer instead of doing the work twice.
CREATE TABLE idempotency_keys (
  principal      text NOT NULL,
  method         text NOT NULL,
  request_id     uuid NOT NULL,
  request_sha256 bytea NOT NULL,
  response       bytea NOT NULL,
  create_time    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, method, request_id)
);
CREATE INDEX idempotency_keys_create_time ON idempotency_keys (create_time);

-- Who did what to which object, with the result. Append-only.
CREATE TABLE audit_log (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time       timestamptz NOT NULL DEFAULT now(),
  principal  text NOT NULL,
  role       text NOT NULL,
  method     text NOT NULL,
  object     text NOT NULL,
  request_id text NOT NULL DEFAULT '',
  code       text NOT NULL,
  message    text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_object ON audit_log (object, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
