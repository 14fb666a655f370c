#pragma once
// GET / on the admin endpoint: one self-contained HTML status page (StatusPage.html, embedded at
// build time: inline style and script, no external assets). It holds no data and no secret; its
// script reads the token from the URL fragment or asks for it, and fetches /status with it.

#include <string>

namespace popgate::gateway::admin {

// The page's HTML, as StatusPage.html has it.
const std::string& statusPageHtml();

// The Content-Security-Policy the page is served with: nothing may load or run but its own inline
// <style> and <script> (allowed by their SHA-256), fetches to this origin only, no framing, no
// form posts elsewhere. Throws Error(Internal) when the page lacks its <style> or <script>.
const std::string& statusPagePolicy();

}  // namespace popgate::gateway::admin
