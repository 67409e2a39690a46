// The agent console (SPEC B-3, B-M, B-P, B-D): the web side of the agent
// state API. The agent signs in with a key bound to them (`me`), sets
// their state, accepts offered calls, dials or skips previews, picks
// customers of manual campaigns, and records the call script's answers.
const state = { key: "", call: null, scriptFor: null, timer: null };
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const out = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(out.error ? out.error.message : `HTTP ${res.status}`);
    e.field = out.error && out.error.field;
    throw e;
  }
  return out;
}

function say(text, bad) {
  $("status").textContent = text;
  $("status").className = bad ? "error" : "";
}

function button(label, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.onclick = () => onclick().then(poll, (e) => say(e.message, true));
  return b;
}

// The script form, built from the campaign's questions.
function renderScript(questions) {
  const form = $("script");
  form.replaceChildren(
    ...questions.map((q) => {
      const label = document.createElement("label");
      label.textContent = q.label + " ";
      let input;
      if (q.type === "choice") {
        input = document.createElement("select");
        for (const o of ["", ...q.options]) {
          const opt = document.createElement("option");
          opt.value = o;
          opt.textContent = o || "–";
          input.append(opt);
        }
      } else if (q.type === "yes_no") {
        input = document.createElement("input");
        input.type = "checkbox";
      } else {
        input = document.createElement("input");
        input.type = q.type === "number" ? "number" : q.type === "date" ? "date" : "text";
      }
      input.name = q.id;
      input.dataset.type = q.type;
      label.append(input);
      const p = document.createElement("p");
      p.append(label);
      return p;
    }),
  );
}

function answers() {
  const out = {};
  for (const input of $("script").querySelectorAll("[name]")) {
    const type = input.dataset.type;
    if (type === "yes_no") out[input.name] = input.checked;
    else if (input.value === "") continue;
    else if (type === "number") out[input.name] = Number(input.value);
    else if (type === "multi_choice") out[input.name] = input.value.split(",").map((s) => s.trim());
    else out[input.name] = input.value;
  }
  return out;
}

async function showCall(call) {
  $("call").hidden = false;
  $("call-state").textContent = call.state;
  $("call-to").textContent = call.to;
  const actions = [];
  if (call.state === "offered") actions.push(button("Accept", () => api("POST", `/api/v1/agents/me/calls/${call.id}/accept`)));
  if (call.state === "previewing") {
    actions.push(button("Dial", () => api("POST", `/api/v1/agents/me/calls/${call.id}/dial`)));
    actions.push(button("Skip", () => api("POST", `/api/v1/agents/me/calls/${call.id}/skip`)));
  }
  if (["dialing", "ringing", "answered", "bridged", "playing"].includes(call.state)) {
    actions.push(button("Hang up", () => api("POST", `/api/v1/telephony/calls/${call.id}/hangup`)));
  }
  $("call-actions").replaceChildren(...actions);
  // The script is filled during and after the conversation.
  const talked = call.bridged_at || call.state === "bridged";
  if (talked && state.scriptFor !== call.id) {
    const campaign = await api("GET", `/api/v1/campaigns/${call.campaign_id}`);
    renderScript(campaign.settings.script.questions);
    state.scriptFor = call.id;
    $("saved").textContent = "";
    $("result").hidden = false;
  }
}

async function poll() {
  try {
    const me = await api("GET", "/api/v1/agents/me");
    $("me").textContent = me.name || me.user_id;
    $("state").textContent = me.state;
    $("auto-answer").checked = me.auto_answer;
    // Keep the last call on screen after it ends, for its script.
    const id = me.call_id || (state.call && state.call.id);
    if (id) {
      state.call = await api("GET", `/api/v1/telephony/calls/${id}`);
      await showCall(state.call);
    }
    say("");
  } catch (e) {
    say(e.message, true);
  }
}

async function loadManual(me) {
  const { data } = await api("GET", "/api/v1/campaigns?status=running");
  const mine = data.filter((c) => c.mode === "manual" && c.agents.some((a) => a.user_id === me.user_id));
  $("manual").hidden = mine.length === 0;
  $("manual-campaign").replaceChildren(
    ...mine.map((c) => {
      const o = document.createElement("option");
      o.value = c.id;
      o.textContent = c.name;
      return o;
    }),
  );
}

async function signIn(key) {
  state.key = key;
  try {
    const me = await api("GET", "/api/v1/agents/me");
    sessionStorage.setItem("careflow-agent-key", key);
    $("console").hidden = false;
    await loadManual(me);
    await poll();
    clearInterval(state.timer);
    state.timer = setInterval(poll, 1000);
  } catch (e) {
    $("console").hidden = true;
    say(e.message, true);
  }
}

for (const b of $("states").querySelectorAll("button[data-state]")) {
  b.onclick = () =>
    api("PUT", "/api/v1/agents/me/state", { state: b.dataset.state, auto_answer: $("auto-answer").checked }).then(poll, (e) =>
      say(e.message, true),
    );
}
$("auto-answer").onchange = () => {
  const current = $("state").textContent;
  if (!["available", "paused", "logged_in", "offline"].includes(current)) {
    say("change auto-answer between calls", true);
    return;
  }
  api("PUT", "/api/v1/agents/me/state", { state: current, auto_answer: $("auto-answer").checked }).catch((e) =>
    say(e.message, true),
  );
};
$("save").onclick = () => {
  const body = { answers: answers() };
  if ($("disposition").value) body.disposition = $("disposition").value;
  api("POST", `/api/v1/telephony/calls/${state.call.id}/result`, body).then(
    () => ($("saved").textContent = "saved"),
    (e) => ($("saved").textContent = e.field ? `${e.field}: ${e.message}` : e.message),
  );
};
$("pick").onclick = async () => {
  try {
    const picked = await api("POST", `/api/v1/campaigns/${$("manual-campaign").value}/customers/pick`, {});
    $("picked").replaceChildren(
      `${picked.name || ""} ${picked.phone} `,
      button("Call", () => api("POST", "/api/v1/agents/me/calls", { campaign_customer_id: picked.id })),
    );
  } catch (e) {
    say(e.message, true);
  }
};
$("login").onsubmit = (e) => {
  e.preventDefault();
  signIn($("key").value.trim());
};
const initial = new URLSearchParams(location.hash.slice(1)).get("key") || sessionStorage.getItem("careflow-agent-key");
if (initial) signIn(initial);
