-- The Shopify store as synced by PROCEDURE_EXECUTION_INITIATE: shops, the catalog
-- (products, variants, collections and memberships) and Commercial Transaction Records
-- (orders with line items, discount allocations, refunds and refund line items).
--
-- Rows are keyed by Shopify GID per shop. Parents are not foreign keys of their
-- children: a bulk export with `groupObjects: false` may list a child before its
-- parent, and a chunk commits whatever it holds. The sync's reconcile step proves
-- completeness instead (every parsed line is a row; Shopify's counts match).
-- Money is numeric(14,2) in the shop's currency. Only the customer data order lookup
-- needs is kept: the order's email and the customer's GID.

CREATE TABLE shop (
    id              serial      PRIMARY KEY,
    gid             text        NOT NULL UNIQUE,
    domain          text        NOT NULL UNIQUE,
    name            text        NOT NULL,
    iana_timezone   text        NOT NULL,
    currency_code   text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE product (
    shop_id       integer     NOT NULL REFERENCES shop (id),
    gid           text        NOT NULL,
    title         text        NOT NULL,
    handle        text        NOT NULL,
    product_type  text        NOT NULL,
    vendor        text        NOT NULL,
    status        text        NOT NULL,
    tags          text[]      NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    PRIMARY KEY (shop_id, gid)
);

CREATE TABLE product_variant (
    shop_id             integer       NOT NULL REFERENCES shop (id),
    gid                 text          NOT NULL,
    product_gid         text          NOT NULL,
    sku                 text,
    title               text          NOT NULL,
    price               numeric(14,2) NOT NULL,
    inventory_quantity  integer,
    created_at          timestamptz   NOT NULL,
    updated_at          timestamptz   NOT NULL,
    deleted_at          timestamptz,
    PRIMARY KEY (shop_id, gid)
);
CREATE INDEX product_variant_product ON product_variant (shop_id, product_gid);

CREATE TABLE collection (
    shop_id  integer NOT NULL REFERENCES shop (id),
    gid      text    NOT NULL,
    handle   text    NOT NULL,
    title    text    NOT NULL,
    PRIMARY KEY (shop_id, gid)
);

CREATE TABLE collection_membership (
    shop_id         integer NOT NULL REFERENCES shop (id),
    collection_gid  text    NOT NULL,
    product_gid     text    NOT NULL,
    PRIMARY KEY (shop_id, product_gid, collection_gid)
);

-- Commercial Transaction Record.
CREATE TABLE shop_order (
    shop_id           integer       NOT NULL REFERENCES shop (id),
    gid               text          NOT NULL,
    legacy_id         bigint        NOT NULL,
    name              text          NOT NULL,
    email             text,
    customer_gid      text,
    created_at        timestamptz   NOT NULL,
    processed_at      timestamptz   NOT NULL,
    updated_at        timestamptz   NOT NULL,
    cancelled_at      timestamptz,
    financial_status  text,
    currency_code     text          NOT NULL,
    total_price       numeric(14,2) NOT NULL,
    total_discounts   numeric(14,2) NOT NULL,
    total_tax         numeric(14,2) NOT NULL,
    deleted_at        timestamptz,
    PRIMARY KEY (shop_id, gid)
);
CREATE INDEX shop_order_legacy_id ON shop_order (shop_id, legacy_id);
CREATE INDEX shop_order_name ON shop_order (shop_id, name);
CREATE INDEX shop_order_email ON shop_order (shop_id, lower(email));
CREATE INDEX shop_order_processed ON shop_order (shop_id, processed_at, gid);

CREATE TABLE order_line_item (
    shop_id         integer       NOT NULL REFERENCES shop (id),
    gid             text          NOT NULL,
    order_gid       text          NOT NULL,
    product_gid     text,
    variant_gid     text,
    sku             text,
    title           text          NOT NULL,
    quantity        integer       NOT NULL,
    unit_price      numeric(14,2) NOT NULL,
    discount_total  numeric(14,2) NOT NULL,
    tax_total       numeric(14,2) NOT NULL,
    tax_line_count  integer       NOT NULL,
    PRIMARY KEY (shop_id, gid)
);
CREATE INDEX order_line_item_order ON order_line_item (shop_id, order_gid);

-- One row per entry of a line item's `discountAllocations`, by position.
CREATE TABLE discount_allocation (
    shop_id        integer       NOT NULL REFERENCES shop (id),
    line_item_gid  text          NOT NULL,
    ordinal        integer       NOT NULL,
    amount         numeric(14,2) NOT NULL,
    PRIMARY KEY (shop_id, line_item_gid, ordinal)
);

CREATE TABLE refund (
    shop_id     integer     NOT NULL REFERENCES shop (id),
    gid         text        NOT NULL,
    order_gid   text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (shop_id, gid)
);
CREATE INDEX refund_order ON refund (shop_id, order_gid);

CREATE TABLE refund_line_item (
    shop_id        integer       NOT NULL REFERENCES shop (id),
    gid            text          NOT NULL,
    refund_gid     text          NOT NULL,
    order_gid      text          NOT NULL,
    line_item_gid  text          NOT NULL,
    quantity       integer       NOT NULL,
    subtotal       numeric(14,2) NOT NULL,
    PRIMARY KEY (shop_id, gid)
);
CREATE INDEX refund_line_item_order ON refund_line_item (shop_id, order_gid);

-- One bulk export per (execution, resource): the operation, its Shopify counts and the
-- download checkpoint. The checkpoint (next part, the unfinished line carried over,
-- counters) commits in the same transaction as the rows of the chunk it covers, so a
-- crash resumes exactly after the last committed chunk.
CREATE TABLE shopify_bulk_run (
    execution_id       uuid        NOT NULL REFERENCES procedure_execution (id) ON DELETE CASCADE,
    resource           text        NOT NULL CHECK (resource IN ('catalog', 'orders')),
    shop_id            integer     NOT NULL REFERENCES shop (id),
    mode               text        NOT NULL CHECK (mode IN ('full', 'incremental')),
    search_filter      text        NOT NULL,
    phase              text        NOT NULL CHECK (phase IN ('pending', 'running', 'downloading', 'downloaded')),
    operation_id       text,
    operation_attempts integer     NOT NULL DEFAULT 0,
    operation_created_at timestamptz,
    url                text,
    partial            boolean     NOT NULL DEFAULT false,
    object_count       bigint,
    root_object_count  bigint,
    file_size          bigint,
    next_part          integer     NOT NULL DEFAULT 0,
    carry              bytea       NOT NULL DEFAULT '\x'::bytea,
    lines              bigint      NOT NULL DEFAULT 0,
    root_lines         bigint      NOT NULL DEFAULT 0,
    lines_by_type      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    rows_written       bigint      NOT NULL DEFAULT 0,
    rows_changed       bigint      NOT NULL DEFAULT 0,
    bytes_read         bigint      NOT NULL DEFAULT 0,
    archive_key        text,
    archive_upload_id  text,
    archive_parts      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, resource)
);

-- The GIDs a run saw (roots, variants, memberships), for reconcile and for marking
-- what vanished from the store on a full sync. Rows are removed when the run ends.
CREATE TABLE shopify_sync_seen (
    execution_id  uuid NOT NULL,
    kind          text NOT NULL,
    key           text NOT NULL,
    PRIMARY KEY (execution_id, kind, key)
);

-- Incremental syncs ask for `updated_at` after the last successful run's export start,
-- less a lookback window.
CREATE TABLE shopify_sync_watermark (
    shop_id     integer     NOT NULL REFERENCES shop (id),
    resource    text        NOT NULL,
    watermark   timestamptz NOT NULL,
    execution_id uuid       NOT NULL,
    PRIMARY KEY (shop_id, resource)
);

-- Consecutive step failures of an execution (reset when a step makes progress): the
-- backoff grows with these, not with the chunks a long sync has delivered.
ALTER TABLE procedure_execution ADD COLUMN failures integer NOT NULL DEFAULT 0;
