// The page registry. A page is one module whose default export is
//
//   {
//     path: "/approvals",            // its hash route: #/approvals, #/approvals/<id>, …?a=b
//     title: "Approvals",            // in the navigation and the window title
//     permission: "proposals:read",  // shown to people whose role grants it (a list: any of)
//     nav: true,                     // listed in the navigation (false: reachable by link only)
//     render(root, ctx) { … },       // draw into `root`; may return a cleanup function
//   }
//
// and is listed below, in navigation order. `ctx` (built in ../app.js) carries who is logged
// in (`me`, `can(permission)`), the route (`rest`, `query`, `navigate(hash)`), the stores in
// scope (`stores()`, `storeName(key)`), people's names for audit actors (`people()`,
// `actorName(actor)`), a `signal` aborted when the person leaves the page, and
// `refreshCounts()` to update the pending badge in the navigation after a decision. The navigation only hides what a role
// cannot use; the server decides every request (a 403 is shown where it happens).
//
// A later workflow (replenishment, risk review, …) adds its page by writing one module here and
// adding it to this list.

import approvals from "./approvals.js";
import audit from "./audit.js";
import connections from "./connections.js";
import overview from "./overview.js";
import replenishment from "./replenishment.js";
import risk from "./risk.js";
import settings from "./settings.js";
import vendors from "./vendors.js";

// Vendors is not in the navigation (nav: false): it is opened from the Replenishment page.
export const PAGES = [overview, approvals, replenishment, vendors, risk, audit, connections, settings];
