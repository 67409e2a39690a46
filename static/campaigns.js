// The campaign dashboard (SPEC B-4, B-D): a supervisor watches one
// campaign's calls, agents and abandon rate, and pauses or resumes it.
// Everything comes from the public HTTP API with the operator's key; the
// key stays in this tab (sessionStorage), or arrives in the URL fragment
// (`#key=…&campaign=…`), which browsers never send to the server.
const state = { key: "", campaign: "", timer: null, agents: new Map() };
const $ = (id) => document.getElementById(id);

function fragment() {
  return new URLSearchParams(location.hash.slice(1));
}

async function api(method, path) {
  const res = await fetch(path, { method, headers: { authorization: `Bearer ${state.key}` } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(body.error ? `${body.error.message} (${res.status})` : `HTTP ${res.status}`);
  }
  return body;
}

function say(text, bad) {
  $("status").textContent = text;
  $("status").className = bad ? "error" : "";
}

const percent = (rate) => (rate === null || rate === undefined ? "no answered calls yet" : `${(rate * 100).toFixed(2)} %`);
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString("vi-VN") : "");

function minutes(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m} min ${seconds % 60} s`;
}

function rows(tbody, items, cells) {
  tbody.replaceChildren(
    ...items.map((item) => {
      const tr = document.createElement("tr");
      for (const text of cells(item)) {
        const td = document.createElement("td");
        td.textContent = text ?? "";
        tr.append(td);
      }
      return tr;
    }),
  );
}

async function loadCampaigns() {
  const { data } = await api("GET", "/api/v1/campaigns");
  const select = $("campaign");
  select.replaceChildren(
    ...data.map((c) => {
      const o = document.createElement("option");
      o.value = c.id;
      o.textContent = `${c.name} (${c.mode})`;
      return o;
    }),
  );
  const wanted = state.campaign || fragment().get("campaign");
  if (wanted && data.some((c) => c.id === wanted)) select.value = wanted;
  state.campaign = select.value;
  $("board").hidden = false;
  say(data.length ? "" : "No campaign yet: create one over the API.");
}

function actionButtons(campaign) {
  const verbs = { running: ["pause"], paused: ["resume"], approved: ["start"] }[campaign.status] || [];
  $("actions").replaceChildren(
    ...verbs.map((verb) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = verb;
      b.onclick = () =>
        api("POST", `/api/v1/campaigns/${campaign.id}/${verb}`).then(refresh, (e) => say(e.message, true));
      return b;
    }),
  );
}

async function refresh() {
  if (!state.campaign) return;
  const id = state.campaign;
  try {
    const [campaign, report, calls, agents] = await Promise.all([
      api("GET", `/api/v1/campaigns/${id}`),
      api("GET", `/api/v1/campaigns/${id}/report`),
      api("GET", `/api/v1/telephony/calls?campaign_id=${id}&state=live`),
      api("GET", "/api/v1/agents"),
    ]);
    const cap = campaign.settings?.predictive?.max_abandon_rate;
    $("campaign-status").textContent = campaign.status;
    actionButtons(campaign);
    $("attempts").textContent = report.attempts;
    $("contacts").textContent = report.contacts;
    $("talk").textContent = minutes(report.talk_seconds);
    $("live").textContent = report.live_calls;
    for (const [cell, rate] of [["abandon-24h", report.abandon_rate.last_24h], ["abandon-30d", report.abandon_rate.last_30d]]) {
      $(cell).textContent = percent(rate) + (campaign.mode === "predictive" && cap ? ` (cap ${(cap * 100).toFixed(0)} %)` : "");
      $(cell).className = campaign.mode === "predictive" && cap && rate > 0.9 * cap ? "error" : "";
    }
    $("customers").textContent =
      Object.entries(report.customers).map(([k, n]) => `${k}: ${n}`).join(" · ") || "none";
    const on = new Set(campaign.agents.map((a) => a.user_id));
    const names = new Map(agents.data.map((a) => [a.user_id, a.name || a.user_id]));
    rows($("calls").tBodies[0], calls.data, (c) => [c.to, c.state, c.agent_id ? names.get(c.agent_id) : "", clock(c.placed_at)]);
    rows($("agents").tBodies[0], agents.data.filter((a) => on.has(a.user_id)), (a) => [a.name || a.user_id, a.state, clock(a.since), a.call_id || ""]);
    say(`updated ${new Date().toLocaleTimeString("vi-VN")}`);
  } catch (e) {
    say(e.message, true);
  }
}

async function open(key) {
  state.key = key;
  try {
    await loadCampaigns();
    sessionStorage.setItem("careflow-key", key);
    clearInterval(state.timer);
    await refresh();
    state.timer = setInterval(refresh, 2000);
  } catch (e) {
    $("board").hidden = true;
    say(e.message, true);
  }
}

$("login").onsubmit = (e) => {
  e.preventDefault();
  open($("key").value.trim());
};
$("campaign").onchange = () => {
  state.campaign = $("campaign").value;
  refresh();
};
const initial = fragment().get("key") || sessionStorage.getItem("careflow-key");
if (initial) open(initial);
