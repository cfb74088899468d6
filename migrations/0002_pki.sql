-- Mandant schema, version 2: Mandant's own PKI. Issuers (root,
-- infrastructure and tenant intermediates) with their sealed keys and
-- current CRL, the certificate inventory, and tenants' issuance policies.
--
-- Scopes are "infrastructure" or "tenants/{name}". A tenant name can be
-- reused after deletion, so every tenant-scoped row also carries the
-- tenant's uid, and reads match on both: a new tenant never sees the
-- certificates of an old one of the same name.

CREATE TABLE pki_issuers (
  id                text PRIMARY KEY CHECK (id ~ '^[0-9]{8}-[0-9a-f]{8}$'),
  scope             text NOT NULL
                    CHECK (scope = 'infrastructure' OR scope ~ '^tenants/[a-z][a-z0-9-]*$'),
  tenant_uid        uuid,
  CHECK ((scope = 'infrastructure') = (tenant_uid IS NULL)),
  kind              text NOT NULL CHECK (kind IN ('ROOT', 'INFRASTRUCTURE', 'TENANT')),
  CHECK ((kind = 'TENANT') = (scope <> 'infrastructure')),
  state             text NOT NULL CHECK (state IN ('PREPARED', 'ACTIVE', 'RETIRED')),
  generation        bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
  signed_by         text REFERENCES pki_issuers (id),
  CHECK ((kind = 'ROOT') = (signed_by IS NULL)),
  subject           text NOT NULL,
  key_type          text NOT NULL,
  public_key_sha256 text NOT NULL CHECK (public_key_sha256 ~ '^[0-9a-f]{64}$'),
  serial            text NOT NULL UNIQUE CHECK (serial ~ '^[0-9a-f]{1,40}$'),
  not_before        timestamptz NOT NULL,
  not_after         timestamptz NOT NULL CHECK (not_after > not_before),
  certificate_pem   text NOT NULL,
  -- AES-256-GCM blob (pki/sealing.h) bound to the issuer id; NULL when the
  -- key is kept offline (an exported root).
  sealed_key        bytea,
  kek_id            text,
  CHECK ((sealed_key IS NULL) = (kek_id IS NULL)),
  permitted_dns     text[] NOT NULL DEFAULT '{}',
  permitted_uri     text[] NOT NULL DEFAULT '{}',
  -- The issuer's current CRL; crl_number grows with every CRL it signs.
  crl_number        bigint NOT NULL DEFAULT 0 CHECK (crl_number >= 0),
  crl_der           bytea,
  crl_this_update   timestamptz,
  crl_next_update   timestamptz,
  create_time       timestamptz NOT NULL DEFAULT now(),
  activate_time     timestamptz,
  retire_time       timestamptz
);
-- At most one ACTIVE and one PREPARED issuer per kind and scope: the
-- database, not the application, keeps rotation races out.
CREATE UNIQUE INDEX pki_issuers_one_active ON pki_issuers (scope, kind)
  WHERE state = 'ACTIVE';
CREATE UNIQUE INDEX pki_issuers_one_prepared ON pki_issuers (scope, kind)
  WHERE state = 'PREPARED';
CREATE INDEX pki_issuers_scope ON pki_issuers (scope, create_time DESC, id);
CREATE INDEX pki_issuers_kek ON pki_issuers (kek_id);

-- Every certificate Mandant signed, intermediates included (under their
-- root), so that revocation and CRLs cover them too.
CREATE TABLE pki_certificates (
  serial            text PRIMARY KEY CHECK (serial ~ '^[0-9a-f]{1,40}$'),
  issuer_id         text NOT NULL REFERENCES pki_issuers (id),
  scope             text NOT NULL,
  tenant_uid        uuid,
  CHECK ((scope = 'infrastructure') = (tenant_uid IS NULL)),
  subject           text NOT NULL,
  dns_names         text[] NOT NULL DEFAULT '{}',
  uris              text[] NOT NULL DEFAULT '{}',
  ip_addresses      text[] NOT NULL DEFAULT '{}',
  usages            text[] NOT NULL DEFAULT '{}',
  key_type          text NOT NULL,
  rsa_bits          integer NOT NULL DEFAULT 0,
  public_key_sha256 text NOT NULL CHECK (public_key_sha256 ~ '^[0-9a-f]{64}$'),
  not_before        timestamptz NOT NULL,
  not_after         timestamptz NOT NULL CHECK (not_after > not_before),
  certificate_pem   text NOT NULL,
  generation        bigint NOT NULL DEFAULT 1,
  revoke_time       timestamptz,
  revoke_reason     integer CHECK (revoke_reason BETWEEN 0 AND 10),
  CHECK ((revoke_time IS NULL) = (revoke_reason IS NULL)),
  create_time       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pki_certificates_scope_expiry
  ON pki_certificates (scope, tenant_uid, not_after, serial);
CREATE INDEX pki_certificates_revoked ON pki_certificates (issuer_id)
  WHERE revoke_time IS NOT NULL;

-- A tenant's issuance policy, a serialized mandant.v1.IssuancePolicy (its
-- fields are never queried one by one). Goes with the tenant.
CREATE TABLE pki_issuance_policies (
  tenant_id   bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  policy      bytea NOT NULL,
  generation  bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
  update_time timestamptz NOT NULL DEFAULT now()
);
