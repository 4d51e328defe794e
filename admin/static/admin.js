/* The console's behaviour: the CSRF header, HTMX error fragments, and ECharts built from the report JSON each page
   embeds. */
(function () {
  "use strict";

  // Every htmx request that changes something carries the page's CSRF token in the header Litestar's CSRF
  // middleware checks (plain forms send it as the _csrf_token field).
  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var method = (evt.detail.verb || "get").toUpperCase();
    if (meta && meta.content && ["GET", "HEAD", "OPTIONS"].indexOf(method) < 0) {
      evt.detail.headers["X-CSRF-Token"] = meta.content;
    }
  });

  // Every console form carries a one-time idempotency key (admin.web adds it as the page renders): a double submit
  // answers with the first submit's result. A form that htmx leaves on the page after a successful submit gets a
  // fresh key, so its next submit is a new request.
  function freshKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    var form = elt && (elt.tagName === "FORM" ? elt : elt.closest && elt.closest("form"));
    if (!evt.detail.successful || !form || !document.contains(form)) { return; }
    form.querySelectorAll('input[name="_idempotency_key"]').forEach(function (input) { input.value = freshKey(); });
  });

  // Let 4xx fragments (a refused action, a bad form) and the 503 of a database out of reach show in the flash
  // area the server names.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var status = evt.detail.xhr.status;
    if ((status >= 400 && status < 500) || status === 503) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  // A form with data-confirm asks first (plain and htmx forms alike: this runs in the capture phase, before
  // htmx sees the submit).
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      evt.preventDefault();
      evt.stopPropagation();
    }
  }, true);

  // Account forms: show only the scope selector the chosen role needs (the server ignores the others anyway).
  var roleScopes = { child_director: "community", child_supervisor: "street", org_staff: "organization" };
  function showScopes(box) {
    var select = box.querySelector("[data-role-select]");
    var want = select ? roleScopes[select.value] : null;
    box.querySelectorAll("[data-scope]").forEach(function (el) {
      el.hidden = el.getAttribute("data-scope") !== want;
    });
  }
  function wireScopes(root) {
    root.querySelectorAll("[data-role-scope]").forEach(function (box) {
      if (box.dataset.wired) { return; }
      box.dataset.wired = "1";
      var select = box.querySelector("[data-role-select]");
      if (select) { select.addEventListener("change", function () { showScopes(box); }); }
      showScopes(box);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { wireScopes(document); });

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var palette = ["#0b6e4f", "#e0a100", "#3b82f6", "#b91c1c", "#7c3aed", "#0891b2"];
  var yuan = function (fen) { return Math.round(fen) / 100; };
  // Money axes in yuan, large values as 万 (ten thousand), the way district finance tables read.
  var moneyAxis = { type: "value", name: "元", axisLabel: { formatter: function (v) { return Math.abs(v) >= 10000 ? (v / 10000) + "万" : v; } } };
  var channelLabels = { stripe: "线上支付", bank_transfer: "银行转账", cash: "现金", in_kind: "实物捐赠" };

  var builders = {
    supply_demand: function (d) {
      var cats = d.by_category;
      return {
        tooltip: { trigger: "axis" },
        legend: { data: ["未满足需求", "已满足需求", "每月供给名额"] },
        grid: { left: 40, right: 10, bottom: 80, containLabel: true },
        xAxis: { type: "category", data: cats.map(function (c) { return c.label; }), axisLabel: { rotate: 40, interval: 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: "未满足需求", type: "bar", data: cats.map(function (c) { return c.open_needs; }) },
          { name: "已满足需求", type: "bar", data: cats.map(function (c) { return c.met_needs; }) },
          { name: "每月供给名额", type: "bar", data: cats.map(function (c) { return c.supply_per_month; }) }
        ]
      };
    },
    referral_funnel: function (d) {
      return {
        tooltip: { trigger: "item", formatter: "{b}: {c}" },
        series: [{
          type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "10%",
          label: { show: true, position: "inside", formatter: "{b} {c}" },
          data: d.funnel.map(function (s) { return { name: s.label, value: s.count }; })
        }]
      };
    },
    overdue_by_street: function (d) {
      var rows = d.streets;
      return {
        tooltip: { trigger: "axis" },
        legend: { data: ["逾期未走访儿童", "超时未接收转介"] },
        grid: { left: 40, right: 10, bottom: 60, containLabel: true },
        xAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { rotate: 30, interval: 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: "逾期未走访儿童", type: "bar", data: rows.map(function (r) { return r.visits_overdue; }), itemStyle: { color: "#b45309" } },
          { name: "超时未接收转介", type: "bar", data: rows.map(function (r) { return r.referrals_overdue; }), itemStyle: { color: "#b91c1c" } }]
      };
    },
    budget_execution: function (d) {
      // GET /reports/budget-execution: per line, the appropriation as a light bar with what is committed and what
      // is paid drawn over it, and the shares written at the end, so a small line's progress still reads.
      var lines = (d.lines || []).slice().reverse();
      var pct = function (part, whole) { return whole > 0 ? Math.round(1000 * part / whole) / 10 + "%" : "—"; };
      return {
        tooltip: {
          trigger: "axis", axisPointer: { type: "shadow" },
          formatter: function (items) {
            var l = lines[items[0].dataIndex];
            return l.name + "<br>批复 " + yuan(l.appropriation_fen).toLocaleString() + " 元" +
              "<br>已承诺 " + yuan(l.committed_fen).toLocaleString() + " 元（" + pct(l.committed_fen, l.appropriation_fen) + "）" +
              "<br>已支付 " + yuan(l.paid_fen).toLocaleString() + " 元（" + pct(l.paid_fen, l.appropriation_fen) + "）";
          }
        },
        legend: { data: ["批复", "已承诺", "已支付"] },
        grid: { left: 10, right: 120, top: 36, bottom: 10, containLabel: true },
        xAxis: moneyAxis,
        yAxis: { type: "category", data: lines.map(function (l) { return l.name; }) },
        series: [
          { name: "批复", type: "bar", barGap: "-100%", barWidth: "60%", itemStyle: { color: "#dbe4ea" },
            data: lines.map(function (l) { return yuan(l.appropriation_fen); }),
            label: { show: true, position: "right", color: "#1f2933", formatter: function (p) {
              var l = lines[p.dataIndex];
              return "承诺 " + pct(l.committed_fen, l.appropriation_fen) + " · 支付 " + pct(l.paid_fen, l.appropriation_fen);
            } } },
          { name: "已承诺", type: "bar", barWidth: "60%", itemStyle: { color: "#e0a100" },
            data: lines.map(function (l) { return yuan(l.committed_fen); }) },
          { name: "已支付", type: "bar", barGap: "-100%", barWidth: "60%", itemStyle: { color: "#0b6e4f" },
            data: lines.map(function (l) { return yuan(l.paid_fen); }) }
        ]
      };
    },
    fund_income: function (d) {
      // GET /reports/fund: income per district month and channel, net of refunds, stacked by channel.
      var rows = d.income_by_month || [];
      var months = [], channels = [];
      rows.forEach(function (r) {
        if (months.indexOf(r.month) < 0) { months.push(r.month); }
        if (channels.indexOf(r.channel) < 0) { channels.push(r.channel); }
      });
      months.sort();
      return {
        tooltip: { trigger: "axis" },
        legend: { data: channels.map(function (c) { return channelLabels[c] || c; }) },
        grid: { left: 40, right: 10, bottom: 40, containLabel: true },
        xAxis: { type: "category", data: months },
        yAxis: moneyAxis,
        series: channels.map(function (c) {
          return {
            name: channelLabels[c] || c, type: "bar", stack: "income",
            data: months.map(function (m) {
              var hit = rows.filter(function (r) { return r.month === m && r.channel === c; })[0];
              return hit ? yuan(hit.income_fen - hit.refunds_fen) : 0;
            })
          };
        })
      };
    },
    fund_spending: function (d) {
      // GET /reports/fund: per purpose, what came in for it and what was spent on it.
      var rows = d.spending_by_purpose || [];
      return {
        tooltip: { trigger: "axis" },
        legend: { data: ["收入（元）", "支出（元）"] },
        grid: { left: 40, right: 10, bottom: 30, containLabel: true },
        xAxis: { type: "category", data: rows.map(function (p) { return p.label; }), axisLabel: { interval: 0, width: 120, overflow: "truncate" } },
        yAxis: moneyAxis,
        series: [
          { name: "收入（元）", type: "bar", data: rows.map(function (p) { return yuan(p.income_fen); }) },
          { name: "支出（元）", type: "bar", data: rows.map(function (p) { return yuan(p.spent_fen); }), itemStyle: { color: "#e0a100" } }
        ]
      };
    },
    ranking: function (d) {
      var items = d.items.slice().reverse();
      return {
        tooltip: { trigger: "axis" },
        grid: { left: 10, right: 30, bottom: 20, containLabel: true },
        xAxis: { type: "value", max: 100 },
        yAxis: { type: "category", data: items.map(function (i) { return i.street_name; }) },
        series: [{ name: "综合得分", type: "bar", data: items.map(function (i) { return i.score; }), label: { show: true, position: "right" } }]
      };
    }
  };

  function drawCharts(root) {
    if (typeof echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var d = data(el.dataset.source);
      var build = builders[el.dataset.chart];
      if (!d || !build) { return; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      var option = build(d);
      option.color = palette;
      option.textStyle = { fontFamily: "Noto Sans CJK SC, sans-serif" };
      chart.setOption(option);
      el.dataset.drawn = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { drawCharts(evt.target); });
})();

/* The child director's forms (issue #15 part 1): a refusal shown in the flash area is scrolled into view, so a
   phone user at the bottom of a long form sees the message. */
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (evt) {
    var flash = document.getElementById("flash");
    if (flash && evt.detail.target === flash && flash.textContent.trim()) {
      flash.scrollIntoView({ block: "start" });
    }
  });
})();
