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

  // reviews, appeals and cases: only where the workspace server keeps them
  if (meta.dataset.server !== "true") return;
  const callId = meta.dataset.call;
  const runId = meta.dataset.run;
  const canRule = meta.dataset.canRule === "true";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const labels = { confirmed: "已确认违规", false_positive: "已标为误报", appeal: "申诉中" };

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function describe(review) {
    return labels[review.verdict] + (review.reviewer ? " · " + review.reviewer : "") +
      (review.comment ? " · " + review.comment : "");
  }

  function findingEl(key) {
    return document.querySelector('.finding[data-key="' + CSS.escape(key) + '"]');
  }

  function show(li, review) {
    li.querySelector(".saved").textContent = describe(review) + (review.carried ? "（沿用重新评分前的复核）" : "");
    li.dataset.verdict = review.verdict;
  }

  function showAppeal(li, appeal) {
    const box = li.querySelector(".appeal-state");
    box.replaceChildren();
    const text = document.createElement("span");
    text.textContent = "申诉 #" + appeal.id + "（" + appeal.filed_by + "）：" + appeal.reason + " · " + appeal.status_label +
      (appeal.ruled_by ? "（" + appeal.ruled_by + (appeal.ruling ? "：" + appeal.ruling : "") + "）" : "");
    box.appendChild(text);
    li.dataset.appeal = appeal.status;
    if (canRule && appeal.status === "pending") {
      [["upheld", "申诉成立"], ["rejected", "驳回"]].forEach(function (pair) {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.ruling = pair[0];
        b.textContent = pair[1];
        b.addEventListener("click", function () {
          const comment = li.querySelector(".comment");
          post("/api/appeals/" + appeal.id + "/ruling", { outcome: pair[0], ruling: comment ? comment.value : "" })
            .then(function (data) { showAppeal(li, data.appeal); show(li, data.decision); loadCases(); })
            .catch(function (err) { li.querySelector(".saved").textContent = "裁决失败：" + err.message; });
        });
        box.appendChild(b);
      });
    }
  }

  function showCases(cases) {
    const list = document.getElementById("cases");
    if (!list) return;
    if (!cases.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = "无";
      list.replaceChildren(none);
      return;
    }
    list.replaceChildren.apply(list, cases.map(function (c) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/cases/" + c.id;
      a.textContent = "#" + c.id + " " + c.type_title + "（" + c.grade + "）";
      li.appendChild(a);
      li.appendChild(document.createTextNode(" · " + c.status_label + (c.overdue ? " · 已超时" : "")));
      return li;
    }));
  }

  function load() {
    return fetch("/api/reviews?call_id=" + encodeURIComponent(callId), { credentials: "same-origin" })
      .then(function (r) { return r.json(); });
  }

  function loadCases() {
    load().then(function (data) { showCases(data.cases || []); });
  }

  load().then(function (data) {
    data.findings.forEach(function (row) {
      const li = findingEl(row.finding_key);
      if (li) show(li, row);
    });
    (data.appeals || []).forEach(function (appeal) {
      const li = appeal.finding_key ? findingEl(appeal.finding_key) : null;
      if (li) showAppeal(li, appeal);
    });
    showCases(data.cases || []);
    const earlier = document.getElementById("earlier");
    data.earlier.forEach(function (row) {
      const item = document.createElement("li");
      item.className = "muted";
      item.textContent = row.rule + (row.item ? " [" + row.item + "]" : "") + "：" + describe(row) + " · " + row.created_at;
      earlier.querySelector("ul").appendChild(item);
    });
    earlier.hidden = data.earlier.length === 0;
  });

  function finding(li) {
    return { call_id: callId, run_id: runId, finding_key: li.dataset.key, rule: li.dataset.rule };
  }

  document.querySelectorAll(".finding [data-verdict]").forEach(function (button) {
    button.addEventListener("click", function () {
      const li = button.closest(".finding");
      const body = Object.assign(finding(li), { verdict: button.dataset.verdict, comment: li.querySelector(".comment").value });
      post("/api/reviews", body)
        .then(function (row) { show(li, row); loadCases(); })
        .catch(function (err) { li.querySelector(".saved").textContent = "保存失败：" + err.message; });
    });
  });

  document.querySelectorAll(".finding [data-appeal]").forEach(function (button) {
    button.addEventListener("click", function () {
      const li = button.closest(".finding");
      const body = Object.assign(finding(li), { reason: li.querySelector(".comment").value });
      post("/api/appeals", body)
        .then(function (appeal) { showAppeal(li, appeal); li.querySelector(".saved").textContent = "已申诉"; })
        .catch(function (err) { li.querySelector(".saved").textContent = "申诉失败：" + err.message; });
    });
  });

  const openCase = document.getElementById("open-case");
  if (openCase) {
    openCase.addEventListener("click", function () {
      const body = { call_id: callId, case_type: document.getElementById("case-type").value,
                     note: document.getElementById("case-note").value };
      post("/api/cases", body)
        .then(function (c) { document.getElementById("case-saved").textContent = "已开立 #" + c.id; loadCases(); })
        .catch(function (err) { document.getElementById("case-saved").textContent = "开立失败：" + err.message; });
    });
  }
})();
