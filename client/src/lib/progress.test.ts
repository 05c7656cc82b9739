import { describe, expect, it } from "vitest";
import { percent, progressOf } from "./progress";

describe("progressOf", () => {
  it("pairs X_total with the first matching done counter", () => {
    const { bars, figures } = progressOf({ bytes_read: 512, bytes_total: 2048, lines: 10, rows_total: 100, rows: 40 });
    expect(bars).toEqual([
      { key: "bytes_read", label: "bytes", done: 512, total: 2048 },
      { key: "rows", label: "rows", done: 40, total: 100 },
    ]);
    expect(figures).toEqual([{ key: "lines", value: 10 }]);
  });

  it("keeps a total without a partner as a figure, and ignores non-numbers", () => {
    const { bars, figures } = progressOf({ pages_total: 3, note: "x", nested: { a: 1 } });
    expect(bars).toEqual([]);
    expect(figures).toEqual([{ key: "pages_total", value: 3 }]);
  });

  it("survives counters that are not an object", () => {
    expect(progressOf(null)).toEqual({ bars: [], figures: [] });
    expect(progressOf([1, 2])).toEqual({ bars: [], figures: [] });
  });

  it("clamps percentages", () => {
    expect(percent(5, 10)).toBe(50);
    expect(percent(15, 10)).toBe(100);
    expect(percent(0, 0)).toBe(0);
  });
});

describe("groupsOf", () => {
  it("shows nested per-resource counters as their own groups", async () => {
    const { groupsOf } = await import("./progress");
    const groups = groupsOf({
      bytes_read: 10,
      orders: { phase: "downloading", partial: false, bytes_read: 5, bytes_total: 20, lines: 3 },
      exports: { orders: { mode: "full" } },
    });
    expect(groups).toEqual([
      {
        name: "orders",
        bars: [{ key: "bytes_read", label: "bytes", done: 5, total: 20 }],
        figures: [{ key: "lines", value: 3 }],
        notes: [
          ["phase", "downloading"],
          ["partial", "false"],
        ],
      },
    ]);
  });
});
