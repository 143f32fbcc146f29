// loopml web UI: draws the charts from the page's JSON island and runs the runs
// table's selection. Static, so pages work under Content-Security-Policy: script-src 'self'.
(function () {
  "use strict";

  function drawCharts() {
    var island = document.getElementById("loopml-charts");
    if (!island || typeof window.Plotly === "undefined") {
      return;
    }
    var specs = JSON.parse(island.textContent);
    var nodes = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < nodes.length; i++) {
      var spec = specs[nodes[i].getAttribute("data-chart")];
      if (spec) {
        window.Plotly.newPlot(nodes[i], spec.data, spec.layout, {
          displaylogo: false,
          responsive: true,
        });
      }
    }
  }

  function runSelection() {
    var form = document.getElementById("compare-form");
    if (!form) {
      return;
    }
    var boxes = form.querySelectorAll("input[name=run]");
    var all = document.getElementById("select-all");
    var button = document.getElementById("compare-button");
    var count = document.getElementById("selected-count");

    function chosen() {
      var ids = [];
      for (var i = 0; i < boxes.length; i++) {
        if (boxes[i].checked) {
          ids.push(boxes[i].value);
        }
      }
      return ids;
    }

    function update() {
      var n = chosen().length;
      button.disabled = n === 0;
      count.textContent = n ? n + " selected" : "tick runs to compare them";
    }

    if (all) {
      all.addEventListener("change", function () {
        for (var i = 0; i < boxes.length; i++) {
          boxes[i].checked = all.checked;
        }
        update();
      });
    }
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].addEventListener("change", update);
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var ids = chosen();
      if (ids.length) {
        window.location.href = form.getAttribute("action") + "?runs=" + ids.join(",");
      }
    });
    update();
  }

  function start() {
    runSelection();
    drawCharts();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
