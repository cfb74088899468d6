-- Mandant schema, version 6: what the controller needs to store the agents'
-- edge reports and egress events (docs/edge.md, docs/decisions.md).

-- The edge's network namespace name (tenants/edge_names.h), the same on
-- every host. Agents name edges by it in EdgeStatus and EgressRecord; the
-- controller accepts a report only for a namespace of an edge placed on the
-- reporting host, matched against this column. mandantd computes the name
-- when it places the edge; the UPDATE below does it once for edges placed
-- before this migration, with the same rule ("mandant-e" + "x" and 6 hex
-- digits of the VNI, or "v" and 4 of the VLAN ID).
ALTER TABLE edges ADD COLUMN namespace text;
UPDATE edges e SET namespace = 'mandant-e' || CASE t.network_mode
    WHEN 'VXLAN' THEN 'x' || lpad(to_hex(t.vni), 6, '0')
    ELSE 'v' || lpad(to_hex(t.vlan_id), 4, '0') END
  FROM tenants t WHERE t.id = e.tenant_id;
ALTER TABLE edges ALTER COLUMN namespace SET NOT NULL,
  ADD CONSTRAINT edges_namespace_key UNIQUE (namespace),
  ADD CONSTRAINT edges_namespace_check CHECK (namespace ~ '^mandant-e(x[0-9a-f]{6}|v[0-9a-f]{4})$');

-- A tie-breaker for the egress log's cursor: events of one tenant often
-- share a timestamp (microseconds), and a page must end between two rows
-- that sort distinctly. A plain sequence (not an identity column, which
-- PostgreSQL 15 does not carry over to partitions) gives every row of every
-- partition its own number; ctid would not do (it is unique per partition
-- only, and changes when a row moves).
CREATE SEQUENCE egress_events_id_seq AS bigint;
ALTER TABLE egress_events ADD COLUMN id bigint NOT NULL DEFAULT nextval('egress_events_id_seq');
ALTER SEQUENCE egress_events_id_seq OWNED BY egress_events.id;
DROP INDEX egress_events_tenant_time;
CREATE INDEX egress_events_tenant_time ON egress_events (tenant_id, time DESC, id DESC);
