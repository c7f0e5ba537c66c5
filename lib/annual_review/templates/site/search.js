// The search page's only script: it asks Pagefind's index, in this site's own files, and lists what it finds.
// No other address is reachable (the page's policy allows its own files only); results are built as elements,
// their words set as text: the excerpt's <mark> is the only markup kept.
"use strict";
(function () {
  var PAGE = 20;
  var form, query, statusLine, list, more, pagefind, found = [], shown = 0, timer;
  // One search at a time, the latest asked for: results never arrive out of order, and a search superseded before
  // it starts (typing on) is not run at all.
  var queue = Promise.resolve(), latest = "";

  function text(tag, words) { var node = document.createElement(tag); node.textContent = words; return node; }

  function excerpt(html) {  // Pagefind's excerpt: text with <mark> around the words found; nothing else kept
    var paragraph = document.createElement("p");
    var parsed = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html").body.firstChild;
    parsed.childNodes.forEach(function (node) {
      paragraph.appendChild(node.nodeName === "MARK" ? text("mark", node.textContent) : document.createTextNode(node.textContent));
    });
    return paragraph;
  }

  function filters() {
    var chosen = {};
    form.querySelectorAll("select[data-filter]").forEach(function (select) {
      if (select.value) chosen[select.dataset.filter] = select.value;
    });
    return chosen;
  }

  function showMore() {
    var batch = found.slice(shown, shown + PAGE), first = null;
    return Promise.all(batch.map(function (result) { return result.data(); })).then(function (entries) {
      entries.forEach(function (entry) {
        var item = document.createElement("li"), link = text("a", entry.meta.title || entry.meta.target);
        link.href = entry.meta.target;  // the report and its part, relative to this page
        item.appendChild(link);
        item.appendChild(excerpt(entry.excerpt));
        list.appendChild(item);
        first = first || link;
      });
      shown += batch.length;
      more.hidden = shown >= found.length;
      return first;
    });
  }

  function search(event) {
    if (event) event.preventDefault();
    clearTimeout(timer);
    var words = query.value.trim(), chosen = filters(), key = JSON.stringify([words, chosen]);
    if (key === latest) return;  // the same search: its results are shown, or on their way
    latest = key;
    if (!words && !Object.keys(chosen).length) {
      list.replaceChildren(); more.hidden = true; statusLine.textContent = ""; return;
    }
    statusLine.textContent = "正在搜索……";
    queue = queue.then(function () {
      if (key !== latest) return;  // a newer search was asked for meanwhile
      return pagefind.search(words || null, { filters: chosen }).then(function (answer) {
        if (key !== latest) return;
        found = answer.results; shown = 0;
        list.replaceChildren();
        statusLine.textContent = found.length ? "找到" + found.length + "条结果" + (words ? "：“" + words + "”" : "")
                                              : "没有找到" + (words ? "“" + words + "”" : "符合条件的结果");
        return showMore();
      });
    }).catch(function (error) {
      statusLine.textContent = "搜索出错（" + error + "）";
    });
  }

  window.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("search-form");
    query = document.getElementById("query");
    statusLine = document.getElementById("status");
    list = document.getElementById("results");
    more = document.getElementById("more");
    if (location.protocol === "file:") {  // a browser lets no page opened as a file read the index
      document.getElementById("file-note").hidden = false;
      form.hidden = true;
      return;
    }
    import(new URL(form.dataset.bundle, location.href).href).then(function (module) {
      pagefind = module;
      return pagefind.filters();
    }).then(function (available) {
      form.querySelectorAll("select[data-filter]").forEach(function (select) {
        Object.keys(available[select.dataset.filter] || {}).sort().forEach(function (value) {
          var option = text("option", value); option.value = value; select.appendChild(option);
        });
        select.addEventListener("change", function () { search(); });
      });
      form.addEventListener("submit", search);
      query.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 250); });
      more.addEventListener("click", function () {
        showMore().then(function (first) { if (first) first.focus(); });
      });
      var linked = new URLSearchParams(location.search).get("q");  // a search someone linked to
      if (linked) { query.value = linked; search(); }
      form.dataset.ready = "true";
    }).catch(function (error) {
      statusLine.textContent = "搜索索引未能载入（" + error + "）";
    });
  });
})();
