// Encoder Harness dashboard: sortable tables, client-side filters and the published switch.
// No framework and no network: everything works on the page as served.
"use strict";

function cellValue(row, index) {
  const cell = row.cells[index];
  if (!cell) return null;
  const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
  if (raw === "") return null;
  const number = Number(raw);
  return Number.isNaN(number) ? raw.toLowerCase() : number;
}

function sortTable(table, th) {
  const index = Array.from(th.parentNode.children).indexOf(th);
  const descending = th.getAttribute("aria-sort") !== "descending";
  table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, index);
    const y = cellValue(b, index);
    if (x === null && y === null) return 0;
    if (x === null) return 1;  // rows without a value go last either way
    if (y === null) return -1;
    const order = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -order : order;
  });
  const fragment = document.createDocumentFragment();
  rows.forEach((r) => fragment.appendChild(r));
  body.appendChild(fragment);
}

function setupSorting() {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("th.sortable").forEach((th) => {
      th.addEventListener("click", () => sortTable(table, th));
    });
  });
}

// Filters: each control names a row attribute (data-filter="group") or, for the category
// control, which columns to show. Checkboxes show or hide smoke and published rows.
function applyFilters(root) {
  const table = root.querySelector("table.filterable");
  if (!table) return;
  const selects = root.querySelectorAll("select[data-filter]");
  const showSmoke = root.querySelector("#show-smoke");
  const showPublished = root.querySelector("#show-published");
  const category = root.querySelector("select[data-columns]");
  let shown = 0;
  Array.from(table.tBodies[0].rows).forEach((row) => {
    let visible = true;
    selects.forEach((select) => {
      const wanted = select.value;
      if (!wanted) return;
      const have = row.dataset[select.dataset.filter];
      // Published rows have no recipe or LLM: such a filter hides them.
      if (have !== wanted) visible = false;
    });
    if (row.dataset.smoke === "true" && showSmoke && !showSmoke.checked) visible = false;
    if (row.dataset.kind === "published" && showPublished && !showPublished.checked) {
      visible = false;
    }
    row.classList.toggle("hidden", !visible);
    if (visible) shown += 1;
  });
  if (category) {
    // Header cells carry the category; body cells are found by column index, which keeps
    // the page small with thousands of rows.
    const wanted = category.value;
    const hide = [];
    Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
      if (th.dataset.category === undefined) return;
      const off = wanted !== "" && th.dataset.category !== wanted;
      th.classList.toggle("hidden", off);
      hide.push([i, off]);
    });
    Array.from(table.tBodies[0].rows).forEach((row) => {
      hide.forEach(([i, off]) => row.cells[i] && row.cells[i].classList.toggle("hidden", off));
    });
  }
  const counter = root.querySelector("#shown-rows");
  if (counter) counter.textContent = String(shown);
}

function setupFilters() {
  const root = document.querySelector("[data-filters]");
  if (!root) return;
  root.querySelectorAll("select, input[type=checkbox]").forEach((control) => {
    control.addEventListener("change", () => applyFilters(root));
  });
  applyFilters(root);
}

// The published switch on chart pages: hide or show every trace whose meta.kind is
// "published".
function setupPublishedSwitch() {
  const box = document.querySelector("#show-published-traces");
  if (!box) return;
  const apply = () => {
    document.querySelectorAll(".js-plotly-plot").forEach((plot) => {
      const indices = plot.data
        .map((trace, i) => (trace.meta && trace.meta.kind === "published" ? i : -1))
        .filter((i) => i >= 0);
      if (indices.length) Plotly.restyle(plot, { visible: box.checked }, indices);
    });
    document.querySelectorAll("tr[data-kind=published]").forEach((row) => {
      row.classList.toggle("hidden", !box.checked);
    });
  };
  box.addEventListener("change", apply);
  apply();
}

function drawFigures() {
  const tags = document.querySelectorAll("script[type='application/json'][data-figure]");
  return Promise.all(Array.from(tags).map((tag) => {
    const figure = JSON.parse(tag.textContent);
    return Plotly.newPlot(tag.dataset.figure, figure.data, figure.layout,
                          { responsive: true, displaylogo: false });
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  setupSorting();
  setupFilters();
  const drawn = window.Plotly ? drawFigures() : Promise.resolve();
  drawn.then(() => {
    setupPublishedSwitch();
    // Lets tests (and impatient scripts) wait for the charts rather than guess.
    document.body.dataset.chartsReady = "true";
  });
});
