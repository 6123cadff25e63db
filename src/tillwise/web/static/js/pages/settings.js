// Settings: what AI may do where, and who may do what. Each section is shown only to roles
// with its permission (read-only without the matching write permission):
//
//   #/settings/modes      workflow modes per store × workflow (off / shadow / draft / auto)
//   #/settings/rollouts   move a workflow through stores step by step, with a guardrail
//   #/settings/rules      approval rules: thresholds for a senior or a second approver
//   #/settings/users      people: add, change role and store scope, disable
//   #/settings/regions    regions: named groups of stores for regional managers

import { h, notice, replaceChildren } from "../dom.js";
import modes from "./settings/modes.js";
import regions from "./settings/regions.js";
import rollouts from "./settings/rollouts.js";
import rules from "./settings/rules.js";
import users from "./settings/users.js";

const SECTIONS = [modes, rollouts, rules, users, regions];

async function render(root, ctx) {
  const allowed = SECTIONS.filter((s) => ctx.can(s.permission));
  const wanted = ctx.rest[0] || (allowed[0] && allowed[0].id);
  const section = SECTIONS.find((s) => s.id === wanted);
  const tabs = h("nav", { class: "tabs", "aria-label": "Settings sections" }, allowed.map((s) => h("a", {
    href: `#/settings/${s.id}`,
    "aria-current": s === section ? "page" : null,
  }, s.title)));
  const body = h("div", { class: "settings-body", id: section ? `settings-${section.id}` : null });
  replaceChildren(root, h("div", { class: "page-head" }, h("h1", {}, "Settings")), tabs, body);
  if (!section) {
    replaceChildren(body, notice("info", "There is no such settings section."));
    return null;
  }
  if (!ctx.can(section.permission)) {
    replaceChildren(body, notice("error", `Your role cannot see ${section.title.toLowerCase()}: it needs ${section.permission}.`));
    return null;
  }
  document.title = `${section.title} · Settings · Tillwise`;
  return section.render(body, ctx);
}

export default {
  path: "/settings",
  title: "Settings",
  permission: SECTIONS.map((s) => s.permission),
  render,
};
