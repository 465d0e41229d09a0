// Our only script. GOV.UK Frontend's page template sets these body classes with an inline script,
// which our Content-Security-Policy forbids; a module script runs only in browsers that
// GOV.UK Frontend supports, so both classes are set together here.
import { initAll } from "./govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
