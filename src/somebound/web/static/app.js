// somebound web: progressive enhancement of the server-rendered pages.
// Live updates over Server-Sent Events, canned answers, presence, keyboard shortcuts.
// Everything here is optional: without JavaScript every page and form still works.
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const csrf = body.dataset.csrf;
  if (!csrf) return; // the login page

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function debounce(fn, ms) {
    let t = null;
    return function () { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  // At most one call per `ms` however busy the stream is (leading and trailing edge):
  // a busy hub must not make every open inbox re-render many times a second.
  function throttle(fn, ms) {
    let last = 0, timer = null;
    return function () {
      const wait = last + ms - Date.now();
      if (wait <= 0) { last = Date.now(); fn(); return; }
      if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
    };
  }

  function toast(text, href) {
    const box = $("#toasts");
    if (!box) return;
    const el = document.createElement(href ? "a" : "div");
    el.className = "toast";
    el.textContent = text;
    if (href) el.href = href;
    box.appendChild(el);
    setTimeout(() => el.remove(), 8000);
  }

  async function fetchPartial(url) {
    const r = await fetch(url, { headers: { "X-Partial": "1" }, credentials: "same-origin" });
    if (r.status === 401 || r.redirected) { location.reload(); return null; }
    if (!r.ok) return null;
    return r.text();
  }

  async function post(url, data) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded",
                 "X-Requested-With": "fetch", "X-CSRF-Token": csrf },
      body: new URLSearchParams(data).toString(),
    });
    let payload = {};
    try { payload = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) throw new Error(payload.detail || r.statusText);
    return payload;
  }

  // -- live region refreshers -------------------------------------------------------------
  let refreshInbox = null, refreshCase = null, refreshSupervisor = null;

  if (page === "inbox") {
    const live = $("#inbox-live");
    const firstPage = body.dataset.firstPage === "1";
    const queueFilter = new URLSearchParams(location.search).get("queue");
    const refresh = throttle(async function () {
      if (!firstPage) { toast(live.dataset.moreText || "New activity: reload to see it"); return; }
      const before = new Set($$("#case-rows tr[data-case-id]").map((tr) => tr.dataset.caseId));
      const focused = document.activeElement && document.activeElement.closest("tr[data-case-id]");
      const focusId = focused ? focused.dataset.caseId : null;
      const html = await fetchPartial(location.pathname + location.search);
      if (html === null) return;
      live.innerHTML = html;
      $$("#case-rows tr[data-case-id]").forEach((tr) => {
        if (!before.has(tr.dataset.caseId)) tr.classList.add("fresh");
      });
      if (focusId) {
        const link = $(`#case-rows tr[data-case-id="${focusId}"] .case-link`);
        if (link) link.focus();
      }
    }, 1500);
    // a change in another queue leaves a queue-filtered list as it is (its counts
    // catch up on the next refresh)
    refreshInbox = function (d) { if (!queueFilter || !d || !d.queue || d.queue === queueFilter) refresh(); };
    setInterval(refreshInbox, 60000); // SLA clocks move even when nothing happens
  }

  if (page === "case") {
    const caseId = body.dataset.caseId;
    refreshCase = debounce(async function () {
      const html = await fetchPartial(location.pathname);
      if (html !== null) $("#case-live").innerHTML = html;
    }, 200);
    setInterval(refreshCase, 60000);
    setupComposer(caseId);
    setupPresence(caseId);
  }

  if (page === "supervisor") {
    refreshSupervisor = debounce(async function () {
      const html = await fetchPartial(location.pathname);
      if (html !== null) $("#supervisor-live").innerHTML = html;
    }, 2000);
    setInterval(refreshSupervisor, 30000);
  }

  // -- the event stream ---------------------------------------------------------------------
  function connect() {
    const state = $("#live-state");
    const es = new EventSource("/live");
    es.addEventListener("hello", () => { if (state) { state.classList.add("on"); state.title = "live"; } body.dataset.live = "1"; });
    es.onerror = () => { if (state) state.classList.remove("on"); body.dataset.live = "0"; };
    function onChange(ev) {
      const d = JSON.parse(ev.data);
      if (refreshInbox) refreshInbox(d);
      if (refreshSupervisor) refreshSupervisor();
      if (refreshCase && (String(d.case_id) === body.dataset.caseId ||
          (d.customer_id && String(d.customer_id) === body.dataset.customerId))) refreshCase();
    }
    es.addEventListener("message", onChange);
    es.addEventListener("case", onChange);
    es.addEventListener("presence", (ev) => {
      const d = JSON.parse(ev.data);
      if (page === "case" && String(d.case_id) === body.dataset.caseId) pollPresence();
    });
    es.addEventListener("notification", (ev) => {
      const d = JSON.parse(ev.data);
      const badge = $("#notif-badge");
      if (badge) {
        const n = (parseInt(badge.textContent, 10) || 0) + 1;
        badge.textContent = n >= 100 ? "99+" : String(n);
        badge.classList.remove("hidden");
      }
      toast(d.text, d.case_id ? `/inbox/cases/${d.case_id}` : "/notifications");
    });
    es.addEventListener("spike", (ev) => {
      const d = JSON.parse(ev.data);
      const banner = $("#spike-banner");
      if (!banner) return;
      const key = String(d.key || "");
      banner.querySelectorAll("p[data-key]").forEach((el) => { if (el.dataset.key === key) el.remove(); });
      if (d.event === "spike_cleared") {
        if (!banner.querySelector("p")) banner.classList.add("hidden");
        if (refreshSupervisor) refreshSupervisor();
        return;
      }
      const p = document.createElement("p");
      p.dataset.key = key;
      p.textContent = "⚠ " + (d.label || d.key || "spike");
      banner.appendChild(p);
      banner.classList.remove("hidden");
      if (refreshSupervisor) refreshSupervisor();
    });
    return es;
  }
  connect();

  // -- composer: canned answers, fetch submit -------------------------------------------------
  function setupComposer(caseId) {
    const q = $("#answer-q"), lang = $("#answer-lang"), list = $("#answer-list");
    const text = $("#reply-body"), form = $("#reply-form"), status = $("#reply-status");
    if (!form) return;
    const search = debounce(async function () {
      const url = `/inbox/answers?case_id=${caseId}&lang=${encodeURIComponent(lang.value)}&q=${encodeURIComponent(q.value)}`;
      const r = await fetch(url, { credentials: "same-origin" });
      if (!r.ok) return;
      const data = await r.json();
      list.innerHTML = "";
      data.answers.forEach((a) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "answer";
        b.dataset.answerId = a.id;
        b.textContent = a.title;
        b.title = a.text;
        b.addEventListener("click", () => {
          text.value = text.value.trim() ? text.value.trimEnd() + "\n\n" + a.text : a.text;
          text.focus();
          text.dispatchEvent(new Event("input"));
        });
        li.appendChild(b);
        list.appendChild(li);
      });
    }, 150);
    q.addEventListener("input", search);
    q.addEventListener("focus", search);
    lang.addEventListener("change", search);
    q.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "Enter") {
        const first = $("button.answer", list);
        if (first) { e.preventDefault(); first.focus(); }
      }
    });
    list.addEventListener("keydown", (e) => {
      const items = $$("button.answer", list);
      const i = items.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && i < items.length - 1) { e.preventDefault(); items[i + 1].focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? items[i - 1] : q).focus(); }
    });

    async function submitVia(f, area, done) {
      const data = new FormData(f);
      try {
        status.textContent = "…";
        const res = await post(f.action, data);
        area.value = "";
        done(res);
        if (refreshCase) refreshCase();
      } catch (err) {
        status.textContent = "";
        toast("✖ " + err.message);
      }
    }
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const hole = /\{[a-z_]{2,40}\}/.exec(text.value);
      if (hole) { // an answer's variable is still empty: select it for the agent
        text.focus();
        text.setSelectionRange(hole.index, hole.index + hole[0].length);
        toast("✖ " + hole[0]);
        return;
      }
      submitVia(form, text, (res) => {
        status.textContent = res.first_response ? "✓ first response" : "✓";
        body.dataset.composing = "0";
      });
    });
    const noteForm = $("#note-form");
    if (noteForm) noteForm.addEventListener("submit", (e) => {
      e.preventDefault();
      submitVia(noteForm, $("#note-body"), () => { status.textContent = "✓"; });
    });
  }

  // -- presence: who else is on this case -----------------------------------------------------
  function showOthers(data) {
    const box = $("#collision");
    if (!box) return;
    if (!data.others.length) { box.classList.add("hidden"); box.textContent = ""; return; }
    const label = box.dataset.label || "Also on this case:";
    box.textContent = label + " " + data.others.map((o) => o.name + (o.composing ? " ✎" : "")).join(", ");
    box.classList.remove("hidden");
  }
  async function pollPresence() {
    const r = await fetch(`${location.pathname}/presence`, { credentials: "same-origin" });
    if (r.ok) showOthers(await r.json());
  }
  function setupPresence(caseId) {
    const text = $("#reply-body");
    let composing = false;
    const beat = async () => {
      try { showOthers(await post(`${location.pathname}/presence`, { composing: composing ? "1" : "0" })); }
      catch (e) { /* next beat */ }
    };
    if (text) text.addEventListener("input", () => {
      const now = text.value.trim().length > 0;
      if (now !== composing) { composing = now; beat(); }
    });
    beat();
    setInterval(beat, 15000);
    window.addEventListener("pagehide", () => {
      navigator.sendBeacon(`${location.pathname}/presence`,
        new URLSearchParams({ leave: "1", csrf: csrf }));
    });
  }

  // -- keyboard -------------------------------------------------------------------------------
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      if (e.key === "Escape") t.blur();
      return;
    }
    if (page === "inbox" && (e.key === "j" || e.key === "k")) {
      const links = $$("#case-rows .case-link");
      if (!links.length) return;
      const i = links.indexOf(document.activeElement);
      const next = e.key === "j" ? Math.min(i + 1, links.length - 1) : Math.max(i - 1, 0);
      links[i < 0 ? 0 : next].focus();
      e.preventDefault();
    } else if (e.key === "/") {
      const f = $(".filters select, #answer-q");
      if (f) { f.focus(); e.preventDefault(); }
    } else if (page === "case" && e.key === "r") {
      $("#reply-body").focus(); e.preventDefault();
    } else if (page === "case" && e.key === "n") {
      $("#note-body").focus(); e.preventDefault();
    } else if (e.key === "g") {
      location.href = "/inbox";
    }
  });
})();
