// The model's health in the header, polled once a second.

const POLL_MS = 1000;

export function watchHealth(badge, versions, setupLogs, modelInfo) {
  let shownFailure = false;
  const poll = async () => {
    let health;
    try {
      const response = await fetch("/api/health-check", { cache: "no-store" });
      health = await response.json();
    } catch {
      health = { status: "UNREACHABLE" };
    }
    badge.textContent = health.status;
    badge.className = `health ${health.status}`;
    const parts = Object.entries(health.version || {}).map(([name, value]) => `${name} ${value}`);
    const info = modelInfo();
    if (info?.version) parts.unshift(`model ${info.version}`);
    versions.textContent = parts.join(" · ");
    if (health.setup?.logs !== undefined) setupLogs.textContent = health.setup.logs || "(no setup output)";
    // A failed setup is the one thing to read: its logs open by themselves, once.
    if (health.status === "SETUP_FAILED" && !shownFailure) setupLogs.closest("details").open = shownFailure = true;
    setTimeout(poll, POLL_MS);
  };
  poll();
}
