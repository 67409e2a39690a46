// Placeholder UI: shows the app version and health until the real UI lands.
async function showHealth() {
  const set = (id, text, bad) => {
    const el = document.getElementById(id);
    el.textContent = text;
    el.className = bad ? "error" : "";
  };
  try {
    const res = await fetch("/api/v1/health");
    const health = await res.json();
    set("version", health.version);
    set("store", health.store.status === "ok" ? `ok (schema v${health.store.schema_version})` : health.store.message, health.store.status !== "ok");
    set("cron", health.cron.last_tick ? health.cron.last_tick.at : "no tick yet");
  } catch (e) {
    set("version", "unreachable", true);
  }
}
showHealth();
setInterval(showHealth, 5000);
