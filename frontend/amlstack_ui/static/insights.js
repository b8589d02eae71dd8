// Draw the Insights charts from the series the server embedded in the page (Chart.js, vendored).
(function () {
  const data = JSON.parse(document.getElementById("series-data").textContent);
  const palette = ["#1d4ed8", "#0d9488", "#d97706", "#dc2626", "#7c3aed", "#475569"];
  const time = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  function draw(id, lines, scale) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: "line",
      data: {
        // x is unix seconds, so series that start at different times line up on one axis.
        datasets: lines.map((line, i) => ({
          label: line.name,
          data: line.points.map((p) => ({ x: p[0], y: p[1] === null ? null : p[1] * (scale || 1) })),
          borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length],
          pointRadius: 0,
          borderWidth: 2,
          tension: 0.25,
          spanGaps: true,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true },
          x: { type: "linear", ticks: { maxTicksLimit: 8, callback: (value) => time(value) } },
        },
        plugins: { legend: { display: lines.length > 1, position: "bottom" } },
      },
    });
  }

  const latency = ["p50", "p95", "p99"].flatMap((k) => (data[k] || []).map((s) => ({ name: k, points: s.points })));
  draw("chart-rps", (data.rps || []).map((s) => ({ name: "req/s", points: s.points })));
  draw("chart-latency", latency, 1000);
  draw("chart-failures", (data.failures || []).map((s) => ({ name: "HTTP " + s.name, points: s.points })));
  draw("chart-classes", data.classes || []);
})();
