-- Mandant schema, version 3: intermediates waiting for an offline root.
--
-- While the root's key is offline (`mandantd pki export-root --remove`), a
-- new tenant's intermediate cannot be signed. The tenant is created anyway,
-- and what its intermediate must be is recorded here; `mandantd pki
-- sign-pending --root_key FILE` creates and signs them (and re-signs the
-- root's CRL) when the root is brought to mandantd for a ceremony.
CREATE TABLE pki_pending_issuers (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope            text NOT NULL CHECK (scope ~ '^tenants/[a-z][a-z0-9-]*$'),
  tenant_uid       uuid NOT NULL,
  ip_ranges        text[] NOT NULL DEFAULT '{}',
  create_time      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scope, tenant_uid)
);
