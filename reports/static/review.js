"use strict";
(function () {
  const player = document.getElementById("player");
  const meta = document.getElementById("call-meta");
  const lines = Array.from(document.querySelectorAll("#conversation .line"));

  // Seek once the audio knows its duration; a click is a user gesture, so play() is allowed.
  function seek(t) {
    if (!player) return;
    const go = function () {
      player.currentTime = t;
      const p = player.play();
      if (p && p.catch) p.catch(function () { /* playback refused: the position is still set */ });
    };
    if (player.readyState >= 1) go();
    else {
      player.addEventListener("loadedmetadata", go, { once: true });
      if (player.networkState === HTMLMediaElement.NETWORK_EMPTY) player.load();
    }
  }

  function flash(indexes) {
    indexes.forEach(function (i, n) {
      const el = document.getElementById("line-" + i);
      if (!el) return;
      el.classList.remove("flash");
      void el.offsetWidth;  // restart the animation
      el.classList.add("flash");
      if (n === 0) el.scrollIntoView({ block: "center", behavior: "smooth" });
    });
  }

  document.querySelectorAll("[data-seek]").forEach(function (el) {
    const go = function () {
      seek(parseFloat(el.dataset.seek));
      if (el.dataset.lines) flash(el.dataset.lines.split(",").filter(Boolean));
    };
    el.addEventListener("click", function (ev) {
      if (!ev.target.closest("button, input")) go();
    });
    el.addEventListener("keydown", function (ev) {  // the keyboard reaches lines and findings too
      if ((ev.key === "Enter" || ev.key === " ") && !ev.target.closest("button, input")) {
        ev.preventDefault();
        go();
      }
    });
  });

  // the line being heard is outlined
  if (player) {
    player.addEventListener("timeupdate", function () {
      const t = player.currentTime;
      lines.forEach(function (el) {
        const on = t >= parseFloat(el.dataset.seek) && t < parseFloat(el.dataset.end);
        el.classList.toggle("now", on);
      });
    });
  }

  // reviews: only where a server can store them
  if (meta.dataset.server !== "true") return;
  const callId = meta.dataset.call;
  const runId = meta.dataset.run;
  const reviewer = document.getElementById("reviewer");
  reviewer.value = localStorage.getItem("callqa.reviewer") || "";
  reviewer.addEventListener("change", function () { localStorage.setItem("callqa.reviewer", reviewer.value); });
  const labels = { confirmed: "已确认违规", false_positive: "已标为误报", appeal: "已申诉" };

  function describe(review) {
    return labels[review.verdict] + (review.reviewer ? " · " + review.reviewer : "") +
      (review.comment ? " · " + review.comment : "");
  }

  function show(li, review) {
    li.querySelector(".saved").textContent = describe(review) + (review.carried ? "（沿用重新评分前的复核）" : "");
    li.dataset.verdict = review.verdict;
  }

  fetch("/api/reviews?call_id=" + encodeURIComponent(callId))
    .then(function (r) { return r.json(); })
    .then(function (data) {
      data.findings.forEach(function (row) {
        const li = document.querySelector('.finding[data-key="' + CSS.escape(row.finding_key) + '"]');
        if (li) show(li, row);
      });
      const earlier = document.getElementById("earlier");
      data.earlier.forEach(function (row) {
        const item = document.createElement("li");
        item.className = "muted";
        item.textContent = row.rule + (row.item ? " [" + row.item + "]" : "") + "：" + describe(row) + " · " + row.created_at;
        earlier.querySelector("ul").appendChild(item);
      });
      earlier.hidden = data.earlier.length === 0;
    });

  document.querySelectorAll(".finding [data-verdict]").forEach(function (button) {
    button.addEventListener("click", function () {
      const li = button.closest(".finding");
      const body = {
        call_id: callId, run_id: runId, finding_key: li.dataset.key, rule: li.dataset.rule,
        verdict: button.dataset.verdict, comment: li.querySelector(".comment").value, reviewer: reviewer.value
      };
      fetch("/api/reviews", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (row) { show(li, row); })
        .catch(function (err) { li.querySelector(".saved").textContent = "保存失败：" + err.message; });
    });
  });
})();
