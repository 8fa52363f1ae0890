// theme.js — applies the stored theme before the first paint.
//
// A classic (blocking) script in <head>, so the page never flashes in the
// wrong theme; app.js owns the toggle. An inline script would be simpler,
// but the Content-Security-Policy allows scripts from this origin only.
try {
  const theme = localStorage.getItem('wakeline-theme');
  document.documentElement.dataset.theme = theme === 'light' || theme === 'dark' ? theme : 'system';
} catch {
  document.documentElement.dataset.theme = 'system';
}
