import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { apiError, json, ME, mockApi, renderApp } from "./harness";

const LOGIN = "http://127.0.0.1:9300/cdn-cgi/access/login/127.0.0.1:8787?kid=aud";

describe("signed-out state", () => {
  it("replaces the page when the API answers 401, with a sign-in link back here", async () => {
    mockApi({
      "GET /api/me": () =>
        apiError(401, "invalid_token", "the token's signature does not verify", "req-401", {
          "x-access-login-url": LOGIN,
        }),
      "GET /api/health/details": () => apiError(401, "invalid_token", "bad", "req-401b", { "x-access-login-url": LOGIN }),
    });
    renderApp("/health");
    expect(await screen.findByRole("heading", { name: /signed out, or no access/i })).toBeInTheDocument();
    const link = screen.getByRole("link", { name: "Sign in" });
    expect(link.getAttribute("href")).toMatch(
      new RegExp(`^${LOGIN.replace(/[.?]/g, "\\$&")}&redirect_url=http%3A%2F%2F`),
    );
    expect(screen.getByTestId("request-id").textContent).toMatch(/^req-401/);
    expect(screen.queryByText("All systems operational.", { exact: false })).not.toBeInTheDocument();
  });

  it("offers a reload when the API names no sign-in page (production: Access in front)", async () => {
    mockApi({ "GET /api/me": () => apiError(401, "missing_token", "no token"), "GET /api/health/details": () => apiError(401, "missing_token", "no token") });
    renderApp("/health");
    expect(await screen.findByRole("button", { name: "Reload" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Sign in" })).not.toBeInTheDocument();
  });

  it("shows who is signed in", async () => {
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/health/details": () => json({ status: "ok", checked_at: new Date().toISOString(), systems: [] }),
    });
    renderApp("/health");
    await waitFor(() => expect(screen.getByTestId("signed-in-as")).toHaveTextContent("analyst@example.com"));
  });
});
