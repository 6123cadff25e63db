// "In plain words": a button that asks the server to reword a text with the configured language
// model (personal data replaced by placeholders before anything leaves, the call audited) and
// shows the answer — or, with no model configured, the server's deterministic text, saying so.
// Used by the Approvals page (a proposal's explanation) and the Risk page (a case's summary).

import { api } from "./api.js";
import { busy, errorNotice, h, replaceChildren } from "./dom.js";

/**
 * The button and where its answer goes. `path`: the POST endpoint answering `{text, model}`;
 * `fallback`: what the text is when no model is configured ("explanation", "summary").
 */
export function explainer(path, { fallback = "explanation", id = "explain", outId = "plain-words" } = {}) {
  const out = h("div", { id: outId, "aria-live": "polite" });
  const button = h("button", { class: "btn", type: "button", id }, "In plain words");
  button.addEventListener("click", async () => {
    replaceChildren(out);
    try {
      const answer = await busy(button, "Asking…", () => api(path, { method: "POST" }));
      replaceChildren(out,
        h("p", { class: "explanation" }, answer.text),
        h("p", { class: "muted" }, answer.model
          ? `Worded by ${answer.model}; personal data never left in the clear.`
          : `No language model is configured: this is the deterministic ${fallback}.`));
    } catch (err) {
      if (err.name !== "AbortError") replaceChildren(out, errorNotice(err));
    }
  });
  return h("div", { class: "explain" }, button, out);
}
