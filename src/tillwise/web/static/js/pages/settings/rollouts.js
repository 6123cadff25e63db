// Rollouts: move a workflow to a target mode store by store — all at once, a canary list (one
// store per step, in the order listed), or percentages of the stores — with a guardrail that
// moves every store the rollout touched back to the fallback mode when people override too
// much of what the workflow proposed there. Advance takes the next step; roll back undoes it.

import { api } from "../../api.js";
import { busy, empty, errorNotice, facts, field, h, notice, pill, replaceChildren, select } from "../../dom.js";
import { formatDateTime, humanize, statusKind } from "../../format.js";
import { checkList, storeOptions } from "./common.js";

async function render(root, ctx) {
  const list = h("div", { id: "rollout-list", class: "stack" });
  const write = ctx.can("workflows:write");
  let workflows = [];
  let stores = [];
  const load = async () => {
    const body = await api("/v1/rollouts", { signal: ctx.signal });
    replaceChildren(list, body.data.length
      ? body.data.map((r) => rolloutCard(r, ctx, write, load))
      : empty("No rollouts yet", write ? "Start one below to move a workflow through your stores step by step." : ""));
  };
  try {
    [workflows, stores] = await Promise.all([
      api("/v1/workflows", { signal: ctx.signal }).then((b) => b.data),
      ctx.stores(),
      ctx.people(),
    ]);
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, errorNotice(err, "The rollouts could not be loaded"));
    return;
  }
  replaceChildren(root, list, write ? startForm(workflows, stores, load) : null);
}

function rolloutCard(r, ctx, write, reload) {
  const names = (keys) => keys.map(ctx.storeName).join(", ") || "none yet";
  const g = r.guardrail;
  const error = h("div", {});
  const active = r.status === "active";
  const buttons = [];
  if (write && active) {
    if (r.stage < r.steps.length) {
      const advance = h("button", { class: "btn btn-primary btn-small", type: "button" },
        `Advance to step ${r.stage + 1} of ${r.steps.length}`);
      advance.addEventListener("click", () => busy(advance, "Advancing…", async () => {
        try {
          await api(`/v1/rollouts/${encodeURIComponent(r.id)}/advance`, { method: "POST" });
          await reload();
        } catch (err) {
          replaceChildren(error, errorNotice(err));
        }
      }));
      buttons.push(advance);
    }
  }
  if (write && r.status !== "rolled_back" && r.enrolled.length) {
    const reason = h("input", { type: "text", required: true, maxlength: 1000, "aria-label": "Why roll back?", placeholder: "Why roll back?" });
    const go = h("button", { class: "btn btn-danger btn-small", type: "submit" }, "Roll back");
    const form = h("form", { class: "inline-form" }, reason, go);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!reason.value.trim()) return;
      busy(go, "Rolling back…", async () => {
        try {
          await api(`/v1/rollouts/${encodeURIComponent(r.id)}/roll-back`, { method: "POST", body: { reason: reason.value.trim() } });
          await reload();
        } catch (err) {
          replaceChildren(error, errorNotice(err));
        }
      });
    });
    buttons.push(form);
  }
  return h("article", { class: "card rollout", dataset: { id: r.id, status: r.status } },
    h("div", { class: "card-head" },
      h("h3", {}, `${humanize(r.workflow)} → ${r.target_mode}`),
      pill(humanize(r.status), statusKind(r.status))),
    facts([
      ["Step", `${r.stage} of ${r.steps.length} (${r.enrolled.length} of ${r.stores.length} stores)`],
      ["Moved", names(r.enrolled)],
      ["Next", active && r.stage < r.steps.length ? names(r.stores.slice(r.steps[r.stage - 1] || 0, r.steps[r.stage])) : null],
      ["Falls back to", r.fallback_mode],
      ["Guardrail", g ? `rolls back when more than ${Math.round(g.max_override_share * 100)} % of at least ${g.min_decisions} decisions in ${g.window_hours} h are overridden` : "none"],
      ["Started", `${formatDateTime(r.created_at)} by ${ctx.actorName(r.created_by)}`],
      ["Reason", r.reason],
    ]),
    buttons.length ? h("div", { class: "action-row" }, buttons) : null,
    error,
  );
}

function startForm(workflows, stores, reload) {
  const wf = select(workflows.map((w) => [w.name, humanize(w.name)]), workflows[0] && workflows[0].name, { id: "rollout-workflow" });
  const target = select(["shadow", "draft", "auto"], "auto", { id: "rollout-target" });
  const fallback = select(["off", "shadow", "draft"], "draft", { id: "rollout-fallback" });
  const picker = checkList(storeOptions(stores), stores.map((s) => s.store), {
    name: "rollout-stores", label: "Stores (in this order for a canary list)", id: "rollout-stores",
  });
  const strategy = h("fieldset", { class: "checks", id: "rollout-strategy" }, h("legend", {}, "Steps"),
    [["all", "All at once"], ["canary", "Canary list: one store per step, in the order above"],
      ["percent", "Percentages of the stores, in a stable random order"]].map(([value, text]) => h("label", { class: "check" },
      h("input", { type: "radio", name: "strategy", value, checked: value === "canary" }), h("span", {}, text))));
  const percentages = h("input", { type: "text", id: "rollout-percentages", value: "10, 50, 100", inputmode: "numeric" });
  const guard = h("input", { type: "checkbox", id: "rollout-guard", checked: true });
  const share = h("input", { type: "number", id: "guard-share", min: 1, max: 99, value: 30 });
  const windowHours = h("input", { type: "number", id: "guard-window", min: 1, max: 2160, value: 168 });
  const minDecisions = h("input", { type: "number", id: "guard-min", min: 1, max: 10000, value: 5 });
  const result = h("div", {});
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Start rollout");
  const form = h("form", { class: "card card-wide form-card", id: "rollout-form", "aria-labelledby": "rollout-form-title" },
    h("h2", { id: "rollout-form-title" }, "Start a rollout"),
    h("div", { class: "form-grid" },
      field("Workflow", wf), field("Target mode", target), field("Fallback mode", fallback)),
    picker.el,
    strategy,
    field("Percentages", percentages, "Cumulative shares, e.g. 10, 50, 100."),
    h("fieldset", { class: "checks" }, h("legend", {}, "Guardrail"),
      h("label", { class: "check" }, guard, h("span", {}, "Roll back automatically when people override too much")),
      h("div", { class: "form-grid" },
        field("Overridden share above (%)", share), field("Within (hours)", windowHours), field("Once there are at least (decisions)", minDecisions))),
    h("div", { class: "action-row" }, submit),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    const how = form.querySelector("input[name=strategy]:checked").value;
    const body = {
      workflow: wf.value,
      target_mode: target.value,
      fallback_mode: fallback.value,
      stores: picker.values(),
      canary: how === "canary",
    };
    if (how === "percent") {
      const parts = percentages.value.split(/[\s,]+/).filter(Boolean).map(Number);
      if (!parts.length || parts.some((n) => !Number.isInteger(n) || n < 1 || n > 100)) {
        replaceChildren(result, notice("error", "Percentages: whole numbers from 1 to 100, e.g. 10, 50, 100."));
        percentages.focus();
        return;
      }
      body.percentages = parts;
    }
    if (guard.checked) {
      body.guardrail = {
        max_override_share: Number(share.value) / 100,
        window_hours: Number(windowHours.value),
        min_decisions: Number(minDecisions.value),
      };
    }
    if (!body.stores.length) {
      replaceChildren(result, notice("error", "Choose at least one store."));
      return;
    }
    try {
      const r = await busy(submit, "Starting…", () => api("/v1/rollouts", { method: "POST", body }));
      replaceChildren(result, notice("ok", `Started: ${r.enrolled.length} of ${r.stores.length} stores moved to ${r.target_mode}.`));
      await reload();
    } catch (err) {
      replaceChildren(result, errorNotice(err, "Not started"));
    }
  });
  return form;
}

export default { id: "rollouts", title: "Rollouts", permission: "workflows:read", render };
