import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { apiError, json, ME, mockApi, renderApp } from "./harness";

const summary = {
  id: "1001234",
  gid: "gid://shopify/Order/1001234",
  name: "#1001",
  email: "x@y.com",
  created_at: "2026-01-05T10:00:00Z",
  processed_at: "2026-01-05T10:00:00Z",
  cancelled_at: null,
  financial_status: "PAID",
  currency: "USD",
  total_price: "48.00",
  total_discounts: "2.00",
  total_tax: "3.84",
  line_items: 2,
  refunded: "24.00",
};

const detail = {
  order: summary,
  lines: [
    {
      gid: "gid://shopify/LineItem/1",
      title: "Cat tee",
      sku: "TEE-CAT-M",
      quantity: 1,
      unit_price: "24.00",
      discount: "2.00",
      tax: "1.92",
      product_gid: null,
      variant_gid: null,
      discounts: [{ amount: "2.00" }],
    },
    {
      gid: "gid://shopify/LineItem/2",
      title: "Dog mug",
      sku: null,
      quantity: 1,
      unit_price: "24.00",
      discount: "0.00",
      tax: "1.92",
      product_gid: null,
      variant_gid: null,
      discounts: [],
    },
  ],
  refunds: [
    {
      gid: "gid://shopify/Refund/9",
      created_at: "2026-01-07T10:00:00Z",
      lines: [{ gid: "gid://shopify/RefundLineItem/1", line_item_gid: "gid://shopify/LineItem/2", quantity: 1, subtotal: "24.00" }],
    },
  ],
};

describe("Orders", () => {
  it("searches by order name and opens an order's lines and refunds", async () => {
    const user = userEvent.setup();
    const { calls } = mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/orders": () => json({ orders: [summary], next_cursor: null }),
      "GET /api/orders/1001234": () => json(detail),
    });
    renderApp("/orders");
    expect(await screen.findByText("Find an order")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Order name"), "#1001");
    await user.click(screen.getByRole("button", { name: "Search" }));
    const rows = await screen.findAllByTestId("order-row");
    expect(rows).toHaveLength(1);
    expect(within(rows[0]!).getByText("$48.00")).toBeInTheDocument();
    const list = new URL(calls.find((r) => new URL(r.url).pathname === "/api/orders")!.url);
    expect(list.searchParams.get("name")).toBe("#1001");
    expect(list.searchParams.has("email")).toBe(false);

    await user.click(within(rows[0]!).getByRole("link", { name: "#1001" }));
    expect(await screen.findByRole("heading", { name: "Order #1001" })).toBeInTheDocument();
    const lines = screen.getAllByTestId("line-row");
    expect(lines).toHaveLength(2);
    expect(within(lines[0]!).getByText("Cat tee")).toBeInTheDocument();
    expect(within(lines[0]!).getByText("$2.00")).toBeInTheDocument();
    expect(screen.getByTestId("refund")).toHaveTextContent("1 × Dog mug — $24.00");
  });

  it("searches by a date range and pages with the cursor", async () => {
    const user = userEvent.setup();
    const { calls } = mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/orders": (_r, url) =>
        url.searchParams.get("cursor")
          ? json({ orders: [{ ...summary, id: "2", name: "#1002" }], next_cursor: null })
          : json({ orders: [summary], next_cursor: "c1" }),
    });
    renderApp("/orders?from=2026-01-01&to=2026-01-31");
    await screen.findAllByTestId("order-row");
    await user.click(screen.getByRole("button", { name: "Next page" }));
    expect(await screen.findByRole("link", { name: "#1002" })).toBeInTheDocument();
    const last = new URL(calls.filter((r) => new URL(r.url).pathname === "/api/orders").at(-1)!.url);
    expect(Object.fromEntries(last.searchParams)).toEqual({ from: "2026-01-01", to: "2026-01-31", limit: "50", cursor: "c1" });
    expect(screen.getByRole("button", { name: "Next page" })).toBeDisabled();
  });

  it("shows the API's refusal with its request id, and an empty result plainly", async () => {
    const user = userEvent.setup();
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/orders": (_r, url) =>
        url.searchParams.get("email") === "nobody@example.com"
          ? json({ orders: [], next_cursor: null })
          : apiError(400, "invalid_query", "email must be an address", "req-400-x"),
    });
    renderApp("/orders?email=broken");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("email must be an address");
    expect(within(alert).getByTestId("request-id")).toHaveTextContent("req-400-x");
    await user.click(screen.getByRole("tab", { name: "Customer email" }));
    const input = screen.getByLabelText("Customer email");
    await user.clear(input);
    await user.type(input, "nobody@example.com");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() => expect(screen.getByText("No order matches")).toBeInTheDocument());
  });

  it("answers an unknown order with a not-found panel", async () => {
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/orders/999": () => apiError(404, "not_found", "no order 999", "req-404"),
    });
    renderApp("/orders/999");
    const alert = await screen.findByRole("alert");
    expect(within(alert).getByText("Not found")).toBeInTheDocument();
    expect(within(alert).getByTestId("request-id")).toHaveTextContent("req-404");
  });
});
