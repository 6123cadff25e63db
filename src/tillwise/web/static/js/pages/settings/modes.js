// Workflow modes: a table of stores × workflows. Each cell is the mode the workflow runs in at
// that store — off, shadow, draft or auto (with an optional limit for auto) — either the
// store's own setting or the workflow's default. Changing one is a PUT of that cell, audited
// on the server as mode.changed.

import { api } from "../../api.js";
import { empty, errorNotice, h, pill, replaceChildren, select } from "../../dom.js";
import { humanize, MODE_HELP, MODES, statusKind } from "../../format.js";
import { amountOrNull } from "./common.js";

const DEFAULT = "*";

async function render(root, ctx) {
  let workflows;
  let stores;
  try {
    [workflows, stores] = await Promise.all([
      // only workflows that propose something have a mode (reporting just keeps figures)
      api("/v1/workflows", { signal: ctx.signal }).then((b) => b.data.filter((w) => w.proposes.length)),
      ctx.stores(),
      ctx.people(),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, errorNotice(err, "The workflow modes could not be loaded"));
    return;
  }
  const write = ctx.can("workflows:write");
  const everyStore = ctx.me.stores === null;
  const legend = h("dl", { class: "legend" }, MODES.map((m) => h("div", {},
    h("dt", {}, pill(m, statusKind(m))), h("dd", {}, MODE_HELP[m]))));
  if (workflows.length === 0) {
    replaceChildren(root, empty("No workflows are installed"));
    return;
  }
  const rows = [];
  rows.push(h("tr", { class: "default-row" },
    h("th", { scope: "row" }, "Every store", h("span", { class: "sub" }, "the default where a store has no setting")),
    workflows.map((wf) => h("td", {}, modeCell(ctx, wf, DEFAULT, "every store", {
      mode: wf.default_mode, own: true, editable: write && everyStore,
    })))));
  for (const s of stores) {
    rows.push(h("tr", { dataset: { store: s.store } },
      h("th", { scope: "row" }, s.name, h("span", { class: "sub" }, s.store)),
      workflows.map((wf) => {
        const own = wf.modes.find((m) => m.store === s.store);
        return h("td", {}, modeCell(ctx, wf, s.store, s.name, {
          mode: own ? own.mode : wf.default_mode,
          limit: own ? own.auto_limit : null,
          own: Boolean(own),
          updated: own && own.updated_by ? ctx.actorName(own.updated_by) : null,
          editable: write,
        }));
      })));
  }
  replaceChildren(root,
    h("p", { class: "lead" }, "What each workflow may do at each store. ",
      write ? "Choose a mode and save the cell; every change is audited." : "Your role can see the modes but not change them."),
    legend,
    stores.length === 0 ? empty("No stores yet", "Stores appear when a POS sends location.updated.") : null,
    h("div", { class: "scroll-x" }, h("table", { class: "table modes", id: "modes-table" },
      h("caption", { class: "visually-hidden" }, "Workflow modes per store"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Store"),
        workflows.map((wf) => h("th", { scope: "col" }, humanize(wf.name), h("span", { class: "sub" }, `${wf.name} ${wf.version}`))))),
      h("tbody", {}, rows))),
  );
}

function modeCell(ctx, wf, store, storeLabel, { mode, limit = null, own, updated = null, editable }) {
  const note = h("span", { class: "cell-note", role: "status" }, own ? (updated ? `set by ${updated}` : "") : "default");
  if (!editable) {
    return h("div", { class: "mode-cell", dataset: { workflow: wf.name, store } },
      pill(mode, statusKind(mode)), mode === "auto" && limit ? h("span", { class: "small" }, ` up to ${limit}`) : null, note);
  }
  const label = `Mode of ${humanize(wf.name)} at ${storeLabel}`;
  const modeSel = select(MODES, mode, {
    "aria-label": label, class: "mode-select", dataset: { workflow: wf.name, store },
  });
  const limitInput = h("input", {
    type: "text", inputmode: "decimal", class: "limit", placeholder: "no limit", value: limit || "",
    "aria-label": `Auto limit of ${humanize(wf.name)} at ${storeLabel} (value up to which it writes without a person)`,
    hidden: mode !== "auto",
  });
  const save = h("button", { class: "btn btn-small btn-primary", type: "button", disabled: true, "aria-label": `Save ${humanize(wf.name)} mode at ${storeLabel}` }, "Save");
  const error = h("div", { class: "cell-error" });
  let saved = { mode, limit: limit || "" };
  const dirty = () => {
    limitInput.hidden = modeSel.value !== "auto";
    save.disabled = modeSel.value === saved.mode && (modeSel.value !== "auto" || limitInput.value.trim() === saved.limit);
  };
  modeSel.addEventListener("change", dirty);
  limitInput.addEventListener("input", dirty);
  save.addEventListener("click", async () => {
    replaceChildren(error);
    save.disabled = true;
    save.textContent = "Saving…";
    try {
      const body = { mode: modeSel.value, auto_limit: modeSel.value === "auto" ? amountOrNull(limitInput.value) : null };
      const m = await api(`/v1/workflows/${encodeURIComponent(wf.name)}/modes/${encodeURIComponent(store)}`, { method: "PUT", body });
      saved = { mode: m.mode, limit: m.auto_limit || "" };
      limitInput.value = saved.limit;
      note.textContent = `Saved: ${m.mode}${m.auto_limit ? ` up to ${m.auto_limit}` : ""}`;
      note.title = "";
      note.classList.add("saved");
    } catch (err) {
      replaceChildren(error, errorNotice(err));
    } finally {
      save.textContent = "Save";
      dirty();
    }
  });
  return h("div", { class: "mode-cell", dataset: { workflow: wf.name, store } },
    h("div", { class: "mode-controls" }, modeSel, limitInput, save), note, error);
}

export default { id: "modes", title: "Workflow modes", permission: "workflows:read", render };
