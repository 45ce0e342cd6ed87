"use strict";
(function () {
  const data = JSON.parse(document.getElementById("queue-data").textContent);
  const form = document.getElementById("filters");
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });  // the filters apply as they change
  const server = form.dataset.server === "true";
  const body = document.querySelector("#queue tbody");
  const MAX_ROWS = 500;  // the table shows the worst 500; exports hold every match
  const SEV = data.severity_label;
  const STATUS = data.status_label;
  const fields = ["rule", "severity", "status", "agent", "team", "questionnaire", "from", "to"];
  const input = {};
  fields.forEach(function (f) { input[f] = document.getElementById("f-" + f); });

  function current() {
    const f = {};
    fields.forEach(function (k) { f[k] = input[k].value; });
    return f;
  }

  function ruleMatches(rule, wanted) {
    return rule === wanted || rule.indexOf(wanted.replace(/\.$/, "") + ".") === 0;
  }

  // the same meaning as reports.tables.Filters: rule, severity and status must hold for one finding
  function matches(c, f) {
    if (f.agent && c.agent !== f.agent) return false;
    if (f.team && c.team !== f.team) return false;
    if (f.questionnaire && c.q.split("+").indexOf(f.questionnaire) < 0) return false;
    if (f.from && (!c.date || c.date < f.from)) return false;
    if (f.to && (!c.date || c.date > f.to)) return false;
    if (f.rule || f.severity || f.status) {
      return c.hits.some(function (h) {
        return (!f.rule || ruleMatches(h[0], f.rule)) && (!f.severity || h[1] === f.severity) &&
          (!f.status || h[2] === f.status);
      });
    }
    return true;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text === null || text === undefined ? "—" : String(text);
    return td;
  }

  function row(c) {
    const tr = document.createElement("tr");
    tr.dataset.call = c.id;
    const link = document.createElement("a");
    link.href = c.href;
    link.textContent = c.id;
    const first = document.createElement("td");
    first.appendChild(link);
    tr.appendChild(first);
    tr.appendChild(cell(c.date));
    tr.appendChild(cell(c.agent));
    tr.appendChild(cell(c.team));
    tr.appendChild(cell(c.q));
    tr.appendChild(cell(c.score === null ? null : Math.round(c.score), "num"));
    const verdict = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "badge " + (c.passed ? "pass" : "fail");
    badge.textContent = c.passed ? "合格" : "不合格";
    verdict.appendChild(badge);
    tr.appendChild(verdict);
    [c.crit, c.major, c.minor, c.alerts, c.review].forEach(function (n) { tr.appendChild(cell(n, "num")); });
    tr.appendChild(cell(c.rate === null ? null : Math.round(c.rate), "num"));
    const rules = document.createElement("td");
    const seen = {};
    c.hits.forEach(function (h) {
      if (seen[h[0]]) return;
      seen[h[0]] = true;
      const chip = document.createElement("span");
      const verify = c.hits.every(function (o) { return o[0] !== h[0] || o[2] === "needs_review"; });
      chip.className = "chip" + (verify ? " verify" : "");
      chip.title = (SEV[h[1]] || h[1]) + (verify ? " · " + STATUS.needs_review : "");
      chip.textContent = h[0];
      rules.appendChild(chip);
    });
    tr.appendChild(rules);
    if (server) tr.appendChild(cell(c.reviewed ? "已复核 " + c.reviewed + " 项" : "—"));
    return tr;
  }

  let shown = [];
  function apply() {
    const f = current();
    shown = data.calls.filter(function (c) { return matches(c, f); });
    body.replaceChildren.apply(body, shown.slice(0, MAX_ROWS).map(row));
    const sum = function (k) { return shown.reduce(function (a, c) { return a + (c[k] || 0); }, 0); };
    document.getElementById("n-shown").textContent = shown.length;
    document.getElementById("n-total").textContent = data.calls.length;
    document.getElementById("n-failed").textContent = shown.filter(function (c) { return !c.passed; }).length;
    document.getElementById("n-critical").textContent = sum("crit");
    document.getElementById("n-major").textContent = sum("major");
    document.getElementById("n-minor").textContent = sum("minor");
    document.getElementById("n-alerts").textContent = sum("alerts");
    document.getElementById("n-review").textContent = sum("review");
    document.getElementById("n-capped").textContent =
      shown.length > MAX_ROWS ? "（表中显示最差的 " + MAX_ROWS + " 通，导出包含全部）" : "";
    ruleCounts(f);
    const query = new URLSearchParams();
    fields.forEach(function (k) { if (f[k]) query.set(k, f[k]); });
    const q = query.toString();
    history.replaceState(null, "", q ? "#" + q : location.pathname + location.search);
    if (server) document.getElementById("export-xlsx").href = "export.xlsx" + (q ? "?" + q : "");
  }

  // how often each rule fired in the calls shown; a click narrows the queue to that rule
  function ruleCounts(f) {
    const counts = {};
    shown.forEach(function (c) {
      c.hits.forEach(function (h) {
        if ((!f.severity || h[1] === f.severity) && (!f.status || h[2] === f.status)) counts[h[0]] = (counts[h[0]] || 0) + 1;
      });
    });
    const box = document.getElementById("rule-counts");
    const chips = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : 1); })
      .map(function (rule) {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "chip";
        chip.dataset.rule = rule;
        chip.textContent = rule + " × " + counts[rule];
        chip.addEventListener("click", function () { input.rule.value = rule; apply(); });
        return chip;
      });
    box.replaceChildren.apply(box, chips);
  }

  function exportCsv() {
    const head = ["通话", "日期", "坐席", "班组", "问卷", "得分", "合格", "严重", "重要", "一般", "预警", "待核实", "坐席语速", "触发规则"];
    // text that starts like a formula gets a leading ' so a spreadsheet shows it, never runs it
    // (the same rule as the exports written by reports/exports.py)
    const formulaStart = /^[=+\-@\t\r＝＋－＠]/;
    const plainNumber = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
    const esc = function (v) {
      let s = v === null || v === undefined ? "" : String(v);
      if (typeof v === "string" && formulaStart.test(s) && !plainNumber.test(s)) s = "'" + s;
      return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    const lines = [head.join(",")].concat(shown.map(function (c) {
      const rules = Array.from(new Set(c.hits.map(function (h) { return h[0]; }))).join("; ");
      return [c.id, c.date, c.agent, c.team, c.q, c.score, c.passed ? "是" : "否", c.crit, c.major, c.minor,
              c.alerts, c.review, c.rate, rules].map(esc).join(",");
    }));
    const blob = new Blob(["\ufeff" + lines.join("\n") + "\n"], { type: "text/csv;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "callqa-queue.csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }

  // filters survive a reload and a trip to a review page and back (kept in the address)
  const saved = new URLSearchParams(location.hash.slice(1));
  fields.forEach(function (k) { if (saved.get(k)) input[k].value = saved.get(k); });
  fields.forEach(function (k) { input[k].addEventListener("change", apply); });
  document.getElementById("reset").addEventListener("click", function () {
    fields.forEach(function (k) { input[k].value = ""; });
    apply();
  });
  document.getElementById("export-csv").addEventListener("click", exportCsv);
  apply();
})();
