// Progressive enhancement only: the wishlist forms work without this script (they post and
// the server answers with the visit page). With it, a form posts in the background and the
// page's content is replaced by the answer's, so the shopper keeps their place on the page.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("wish")) {
    return;
  }
  event.preventDefault();
  const button = form.querySelector("button");
  if (button) {
    button.disabled = true;
  }
  let answer;
  try {
    answer = await fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: {"Accept": "text/html"},
    });
  } catch (error) {
    form.submit();  // the network failed: the plain post says what happened
    return;
  }
  const page = new DOMParser().parseFromString(await answer.text(), "text/html");
  const main = page.querySelector("main");
  if (!main) {
    form.submit();
    return;
  }
  document.querySelector("main").replaceWith(main);
  document.title = page.title;
});
