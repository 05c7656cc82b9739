// One order: its lines (with their discounts and tax) and refunds.
import { useQuery } from "@tanstack/react-query";
import { createColumnHelper } from "@tanstack/react-table";
import { getRouteApi, Link } from "@tanstack/react-router";
import type { Schemas } from "../api/client";
import { orderQuery } from "../api/queries";
import { DataTable } from "../components/DataTable";
import { Card, Empty, ErrorPanel, Loading, PageHeader, StatusBadge } from "../components/ui";
import { formatDateTime, formatMoney } from "../lib/format";

type OrderLine = Schemas["OrderLine"];
const route = getRouteApi("/orders/$id");

function lineColumns(currency: string) {
  const column = createColumnHelper<OrderLine>();
  const money = (v: string) => <span className="tabular-nums">{formatMoney(v, currency)}</span>;
  return [
    column.accessor("title", { header: "Item", cell: (c) => <span className="font-medium">{c.getValue()}</span> }),
    column.accessor("sku", { header: "SKU", cell: (c) => c.getValue() ?? "—" }),
    column.accessor("quantity", { header: "Qty" }),
    column.accessor("unit_price", { header: "Unit price", cell: (c) => money(c.getValue()) }),
    column.accessor("discount", {
      header: "Discount",
      cell: (c) => (
        <span title={c.row.original.discounts.map((d) => formatMoney(d.amount, currency)).join(" + ")}>
          {money(c.getValue())}
          {c.row.original.discounts.length > 1 && (
            <span className="ml-1 text-xs text-slate-500">({c.row.original.discounts.length} discounts)</span>
          )}
        </span>
      ),
    }),
    column.accessor("tax", { header: "Tax", cell: (c) => money(c.getValue()) }),
  ];
}

export default function OrderPage() {
  const { id } = route.useParams();
  const order = useQuery(orderQuery(id));

  if (order.isPending) return <Loading label="Loading the order…" />;
  if (order.isError)
    return (
      <>
        <PageHeader title="Order" />
        <ErrorPanel error={order.error} onRetry={() => order.refetch()} />
      </>
    );
  const { order: o, lines, refunds } = order.data;
  const titles = new Map(lines.map((l) => [l.gid, l.title]));
  const money = (v: string) => formatMoney(v, o.currency);

  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/orders" className="text-indigo-700 hover:underline">
          ← Orders
        </Link>
      </nav>
      <PageHeader title={`Order ${o.name}`}>
        {o.financial_status && <StatusBadge status={o.financial_status.toLowerCase()} />}
        {o.cancelled_at && <StatusBadge status="cancelled" />}
      </PageHeader>
      <Card className="mb-6">
        <dl className="grid grid-cols-1 gap-x-8 gap-y-2 text-sm sm:grid-cols-2 lg:grid-cols-4">
          {[
            ["Customer", o.email ?? "—"],
            ["Processed", formatDateTime(o.processed_at)],
            ["Created", formatDateTime(o.created_at)],
            ["Cancelled", formatDateTime(o.cancelled_at)],
            ["Total", money(o.total_price)],
            ["Discounts", money(o.total_discounts)],
            ["Tax", money(o.total_tax)],
            ["Refunded", money(o.refunded)],
          ].map(([k, v]) => (
            <div key={k}>
              <dt className="text-slate-500">{k}</dt>
              <dd className="font-medium text-slate-900 tabular-nums">{v}</dd>
            </div>
          ))}
        </dl>
        <p className="mt-3 text-xs text-slate-500">
          Shopify id <code>{o.gid}</code>
        </p>
      </Card>
      <h2 className="mb-3 text-lg font-semibold text-slate-900">Lines ({lines.length})</h2>
      {lines.length === 0 ? (
        <Empty title="This order has no lines" />
      ) : (
        <DataTable data={lines} columns={lineColumns(o.currency)} caption="Order lines" rowTestId="line-row" />
      )}
      <h2 className="mt-8 mb-3 text-lg font-semibold text-slate-900">Refunds ({refunds.length})</h2>
      {refunds.length === 0 ? (
        <Empty title="No refunds" />
      ) : (
        <ul className="space-y-3">
          {refunds.map((r) => (
            <li key={r.gid} className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200" data-testid="refund">
              <p className="text-sm font-medium text-slate-900">Refund on {formatDateTime(r.created_at)}</p>
              {r.lines.length === 0 ? (
                <p className="mt-1 text-sm text-slate-600">No line items (e.g. shipping only).</p>
              ) : (
                <ul className="mt-2 text-sm text-slate-700">
                  {r.lines.map((l) => (
                    <li key={l.gid}>
                      {l.quantity} × {titles.get(l.line_item_gid) ?? l.line_item_gid} — {money(l.subtotal)}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
