// The organizer dashboard: signs in against the API, lists the events one may read the
// figures of, and shows one event's figures, kept current by the server-sent events of
// /analytics/live. No build step, no framework; the only library is uPlot (vendored).
//
// The access token stays in this tab's sessionStorage and travels in the Authorization
// header, never in a URL (a URL ends up in logs). EventSource cannot send that header, so
// the live stream is read with fetch() and parsed here.
(function () {
  "use strict";

  const API = "/api/v1";
  const TOKEN = "boxoffice.dashboard.token";
  const labels = JSON.parse(document.getElementById("dashboard-script").dataset.labels);
  const language = document.documentElement.lang || "en";
  const $ = (id) => document.getElementById(id);
  let stream = null;
  let chart = null;

  function show(section) {
    for (const id of ["sign-in", "events", "event"]) $(id).hidden = id !== section;
    $("sign-out").hidden = section === "sign-in";
  }

  class SignedOut extends Error {}

  async function call(path, options = {}) {
    const token = sessionStorage.getItem(TOKEN);
    const response = await fetch(API + path, {
      ...options,
      headers: { ...(options.headers || {}), Authorization: "Bearer " + token },
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN);
      throw new SignedOut();
    }
    if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
    return response;
  }

  function money(amount) {
    // Minor units to a decimal string, then the locale's format (a string keeps it exact).
    const digits = new Intl.NumberFormat("en", { style: "currency", currency: amount.currency })
      .resolvedOptions().maximumFractionDigits;
    const negative = amount.minor < 0;
    let text = String(Math.abs(amount.minor)).padStart(digits + 1, "0");
    if (digits > 0) text = text.slice(0, -digits) + "." + text.slice(-digits);
    return new Intl.NumberFormat(language, { style: "currency", currency: amount.currency })
      .format((negative ? "-" : "") + text);
  }

  async function signIn(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const response = await fetch(API + "/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: form.get("email"), password: form.get("password") }),
    });
    if (!response.ok) {
      $("sign-in-error").textContent = (await response.json()).detail || labels.sign_in_failed;
      return;
    }
    sessionStorage.setItem(TOKEN, (await response.json()).access_token);
    route();
  }

  async function listEvents() {
    show("events");
    const list = $("event-list");
    list.replaceChildren();
    const organizations = await (await call("/me/organizations")).json();
    for (const organization of organizations) {
      const events = await (await call(`/organizations/${organization.id}/events`)).json();
      for (const item of events) {
        const link = document.createElement("a");
        link.href = `?org=${organization.id}&event=${item.id}`;
        link.textContent = `${item.title} — ${organization.name}`;
        link.dataset.eventId = item.id;
        const entry = document.createElement("li");
        entry.append(link);
        list.append(entry);
      }
    }
    if (!list.children.length) list.textContent = labels.no_events;
  }

  function render(summary) {
    $("event-title").textContent = summary.title;
    $("tickets-sold").textContent = summary.revenue.tickets_sold - summary.revenue.tickets_refunded;
    $("capacity").textContent = labels.of_capacity.replace("{capacity}", summary.capacity);
    $("gross").textContent = money(summary.revenue.gross);
    $("net").textContent = money(summary.revenue.net);
    $("orders-paid").textContent = summary.funnel.paid;
    $("checked-in").textContent = `${summary.checkins.checked_in} (${summary.checkins.percent || 0} %)`;
    $("waiting").textContent = summary.waitlist.reduce((sum, w) => sum + w.waiting, 0);
    const steps = [
      [labels.views, summary.funnel.views, ""],
      [labels.holds, summary.funnel.holds, summary.funnel.holds_percent],
      [labels.orders, summary.funnel.orders, summary.funnel.orders_percent],
      [labels.paid, summary.funnel.paid, summary.funnel.paid_percent],
    ];
    $("funnel").replaceChildren(
      ...steps.map(([name, count, share]) => {
        const step = document.createElement("li");
        step.textContent = `${name}: ${count}` + (share ? ` (${share} %)` : "");
        return step;
      }),
    );
  }

  async function drawSales(base) {
    const series = await (await call(`${base}/analytics/sales?group=hour`)).json();
    const times = series.periods.map((p) => Date.parse(p.start) / 1000);
    const sold = series.periods.map((p) => p.tickets_sold);
    const width = Math.max(280, $("chart").clientWidth - 16);
    const data = [times, sold];
    if (chart) {
      chart.setData(data);
      return;
    }
    chart = new uPlot(
      {
        width,
        height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), series.timezone),
        series: [{}, { label: labels.tickets_sold, stroke: "#2f5fd0", fill: "rgba(47,95,208,0.12)" }],
        axes: [{}, { label: labels.tickets_sold }],
      },
      data,
      $("chart"),
    );
  }

  async function follow(base) {
    // Server-sent events over fetch: "event: summary" / "data: {...}" blocks.
    const controller = new AbortController();
    stream = controller;
    const response = await call(`${base}/analytics/live`, { signal: controller.signal });
    $("live").textContent = labels.live;
    $("live").classList.add("on");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let redraw = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      // Lines end in CRLF, CR or LF; a CR at a chunk's end waits for what follows it.
      buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (!data) continue;
        render(JSON.parse(data));
        if (Date.now() - redraw > 5000) {
          redraw = Date.now();
          drawSales(base).catch(() => {});
        }
      }
    }
  }

  async function showEvent(org, event) {
    show("event");
    const base = `/organizations/${org}/events/${event}`;
    render(await (await call(`${base}/analytics/summary`)).json());
    await drawSales(base);
    for (;;) {
      try {
        await follow(base);
      } catch (error) {
        if (error instanceof SignedOut || error.name === "AbortError") throw error;
      }
      $("live").textContent = labels.reconnecting;
      $("live").classList.remove("on");
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }

  async function route() {
    if (stream) stream.abort();
    if (!sessionStorage.getItem(TOKEN)) {
      show("sign-in");
      return;
    }
    const query = new URLSearchParams(location.search);
    try {
      if (query.get("event") && query.get("org")) await showEvent(query.get("org"), query.get("event"));
      else await listEvents();
    } catch (error) {
      if (error instanceof SignedOut) show("sign-in");
      else if (error.name !== "AbortError") $("live").textContent = String(error.message || error);
    }
  }

  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN);
    location.search = "";
  });
  $("back").addEventListener("click", (event) => {
    event.preventDefault();
    location.search = "";
  });
  route();
})();
