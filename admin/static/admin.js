/* The console's behaviour: HTMX error fragments, and ECharts built from the report JSON each page embeds. */
(function () {
  "use strict";

  // Let 4xx fragments (a refused action, a bad form) show in the flash area the server names.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var status = evt.detail.xhr.status;
    if (status >= 400 && status < 500) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var palette = ["#0b6e4f", "#e0a100", "#3b82f6", "#b91c1c", "#7c3aed", "#0891b2"];
  var yuan = function (fen) { return Math.round(fen) / 100; };

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
      var lines = d.lines || [];
      return {
        tooltip: { trigger: "axis" },
        legend: { data: ["预算（元）", "已承诺（元）", "已支付（元）"] },
        grid: { left: 40, right: 10, bottom: 80, containLabel: true },
        xAxis: { type: "category", data: lines.map(function (l) { return l.name; }), axisLabel: { rotate: 30, interval: 0 } },
        yAxis: { type: "value" },
        series: [
          { name: "预算（元）", type: "bar", data: lines.map(function (l) { return yuan(l.appropriation_fen); }) },
          { name: "已承诺（元）", type: "bar", data: lines.map(function (l) { return yuan(l.committed_fen); }) },
          { name: "已支付（元）", type: "bar", data: lines.map(function (l) { return yuan(l.paid_fen); }) }
        ]
      };
    },
    fund_flows: function (d) {
      var months = d.months || [];
      return {
        tooltip: { trigger: "axis" },
        legend: { data: ["收入（元）", "支出（元）"] },
        grid: { left: 40, right: 10, bottom: 40, containLabel: true },
        xAxis: { type: "category", data: months.map(function (m) { return m.month; }) },
        yAxis: { type: "value" },
        series: [
          { name: "收入（元）", type: "bar", data: months.map(function (m) { return yuan(m.income_fen); }) },
          { name: "支出（元）", type: "bar", data: months.map(function (m) { return yuan(m.spending_fen); }) }
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
