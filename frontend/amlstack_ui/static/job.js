// Poll the job's status and reload the page when it finishes (the page itself is server-rendered).
(function () {
  const job = document.getElementById("job");
  if (!job) return;
  const bar = document.getElementById("progress");
  const text = document.getElementById("job-state");
  async function poll() {
    try {
      const response = await fetch(job.dataset.statusUrl, { cache: "no-store" });
      if (response.status === 404) {  // the job was deleted: the page says so
        window.location.reload();
        return;
      }
      const status = await response.json();
      bar.value = status.percent;
      // the message of a running job says why it waits (the scorer is down for a moment)
      const waiting = status.message ? " (" + status.message + ")" : "";
      text.textContent = status.rows_done.toLocaleString() + " rows so far…" + waiting;
      if (status.state === "done" || status.state === "failed") {
        window.location.reload();
        return;
      }
    } catch (e) {
      text.textContent = "Waiting for the server…";
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
