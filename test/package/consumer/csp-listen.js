// A classic script, before any module: records what the page's Content-Security-Policy refuses.
globalThis.violations = [];
document.addEventListener('securitypolicyviolation', (e) => globalThis.violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile));
