// Orders: look up Commercial Transaction Records by order name, customer email or a date
// range (days in the shop's time zone, inclusive), cursor-paginated.
import { useQuery } from "@tanstack/react-query";
import { createColumnHelper } from "@tanstack/react-table";
import { getRouteApi, Link, useNavigate } from "@tanstack/react-router";
import { useId, useState, type FormEvent } from "react";
import type { Schemas } from "../api/client";
import { ordersQuery, type OrderListQuery } from "../api/queries";
import { DataTable } from "../components/DataTable";
import { Button, cx, Empty, ErrorPanel, inputClass, Loading, PageHeader, StatusBadge } from "../components/ui";
import { formatDateTime, formatMoney } from "../lib/format";
import type { OrdersSearch } from "../search";

type OrderSummary = Schemas["OrderSummary"];
type Mode = "name" | "email" | "dates";

const route = getRouteApi("/orders");
const PAGE = 50;

const column = createColumnHelper<OrderSummary>();
const columns = [
  column.accessor("name", {
    header: "Order",
    cell: (c) => (
      <Link
        to="/orders/$id"
        params={{ id: c.row.original.id }}
        className="font-medium text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-600"
      >
        {c.getValue()}
      </Link>
    ),
  }),
  column.accessor("processed_at", { header: "Processed", cell: (c) => formatDateTime(c.getValue()) }),
  column.accessor("email", { header: "Customer", cell: (c) => c.getValue() ?? "—" }),
  column.accessor("financial_status", {
    header: "Payment",
    cell: (c) => (
      <span className="flex gap-1">
        {c.getValue() ? <StatusBadge status={c.getValue()!.toLowerCase()} /> : "—"}
        {c.row.original.cancelled_at && <StatusBadge status="cancelled" />}
      </span>
    ),
  }),
  column.accessor("line_items", { header: "Lines" }),
  column.accessor("total_price", {
    header: "Total",
    cell: (c) => <span className="tabular-nums">{formatMoney(c.getValue(), c.row.original.currency)}</span>,
  }),
  column.accessor("total_discounts", {
    header: "Discounts",
    cell: (c) => <span className="tabular-nums">{formatMoney(c.getValue(), c.row.original.currency)}</span>,
  }),
  column.accessor("refunded", {
    header: "Refunded",
    cell: (c) => <span className="tabular-nums">{formatMoney(c.getValue(), c.row.original.currency)}</span>,
  }),
];

function modeOf(s: OrdersSearch): Mode {
  return s.email ? "email" : s.from || s.to ? "dates" : "name";
}

/** The API query for a search, or null when the search is incomplete. */
export function toOrdersQuery(s: OrdersSearch): OrderListQuery | null {
  const page = { limit: PAGE, cursor: s.cursor };
  if (s.name) return { name: s.name, ...page };
  if (s.email) return { email: s.email, ...page };
  if (s.from && s.to) return { from: s.from, to: s.to, ...page };
  return null;
}

function SearchForm({ search }: { search: OrdersSearch }) {
  const navigate = useNavigate({ from: "/orders" });
  const [mode, setMode] = useState<Mode>(modeOf(search));
  const [draft, setDraft] = useState(search);
  const ids = { name: useId(), email: useId(), from: useId(), to: useId() };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next: OrdersSearch =
      mode === "name"
        ? { name: draft.name }
        : mode === "email"
          ? { email: draft.email }
          : { from: draft.from, to: draft.to };
    void navigate({ search: next });
  };
  const tab = (m: Mode, label: string) => (
    <button
      type="button"
      role="tab"
      aria-selected={mode === m}
      onClick={() => setMode(m)}
      className={cx(
        "rounded-md px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-indigo-600",
        mode === m ? "bg-indigo-50 text-indigo-700" : "text-slate-600 hover:text-slate-900",
      )}
    >
      {label}
    </button>
  );
  return (
    <form onSubmit={submit} className="mb-6 rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200" aria-label="Find orders">
      <div role="tablist" aria-label="Search by" className="mb-3 flex gap-1">
        {tab("name", "Order name")}
        {tab("email", "Customer email")}
        {tab("dates", "Date range")}
      </div>
      <div className="flex flex-wrap items-end gap-3">
        {mode === "name" && (
          <div className="min-w-64">
            <label htmlFor={ids.name} className="block text-xs font-medium text-slate-600">
              Order name
            </label>
            <input
              id={ids.name}
              className={inputClass}
              placeholder="#1001"
              required
              value={draft.name ?? ""}
              onChange={(e) => setDraft({ ...draft, name: e.target.value })}
            />
          </div>
        )}
        {mode === "email" && (
          <div className="min-w-72">
            <label htmlFor={ids.email} className="block text-xs font-medium text-slate-600">
              Customer email
            </label>
            <input
              id={ids.email}
              type="email"
              className={inputClass}
              placeholder="customer@example.com"
              required
              value={draft.email ?? ""}
              onChange={(e) => setDraft({ ...draft, email: e.target.value })}
            />
          </div>
        )}
        {mode === "dates" && (
          <>
            <div>
              <label htmlFor={ids.from} className="block text-xs font-medium text-slate-600">
                From (shop time)
              </label>
              <input
                id={ids.from}
                type="date"
                className={inputClass}
                required
                value={draft.from ?? ""}
                onChange={(e) => setDraft({ ...draft, from: e.target.value })}
              />
            </div>
            <div>
              <label htmlFor={ids.to} className="block text-xs font-medium text-slate-600">
                To (inclusive)
              </label>
              <input
                id={ids.to}
                type="date"
                className={inputClass}
                required
                value={draft.to ?? ""}
                onChange={(e) => setDraft({ ...draft, to: e.target.value })}
              />
            </div>
          </>
        )}
        <Button type="submit" variant="primary">
          Search
        </Button>
      </div>
    </form>
  );
}

export default function OrdersPage() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: "/orders" });
  const query = toOrdersQuery(search);
  const orders = useQuery({ ...ordersQuery(query ?? {}), enabled: query !== null });

  return (
    <>
      <PageHeader title="Orders" />
      <SearchForm key={JSON.stringify({ ...search, cursor: undefined })} search={search} />
      {query === null ? (
        <Empty title="Find an order">Search by order name (e.g. #1001), customer email, or a range of days.</Empty>
      ) : orders.isPending ? (
        <Loading label="Searching orders…" />
      ) : orders.isError ? (
        <ErrorPanel error={orders.error} onRetry={() => orders.refetch()} />
      ) : orders.data.orders.length === 0 ? (
        <Empty title="No order matches">
          {search.cursor ? "There are no more results." : "Check the spelling, or widen the date range."}
        </Empty>
      ) : (
        <>
          <DataTable data={orders.data.orders} columns={columns} caption="Orders found" rowTestId="order-row" />
          <nav aria-label="Pages" className="mt-3 flex justify-end gap-2">
            <Button disabled={!search.cursor} onClick={() => navigate({ search: { ...search, cursor: undefined } })}>
              First page
            </Button>
            <Button
              disabled={!orders.data.next_cursor}
              onClick={() => navigate({ search: { ...search, cursor: orders.data.next_cursor ?? undefined } })}
            >
              Next page
            </Button>
          </nav>
        </>
      )}
    </>
  );
}
