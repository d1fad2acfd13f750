/**
 * What a browser without the dashboard's token gets: a short page that says how to get in, not a bare
 * "401" in plain text. It names no token and loads nothing, so it gives nothing away.
 */
export const NO_ACCESS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Junction dashboard</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; }
code { background: rgba(127, 127, 127, 0.15); padding: 0.1rem 0.3rem; border-radius: 4px; }
</style>
</head>
<body>
<h1>Junction dashboard</h1>
<p>This page needs the dashboard's address with its access token.</p>
<p>Open the address that <code>npm run serve</code> printed when Junction started
(the line <code>[junction] dashboard: http://127.0.0.1:…/?token=…</code>).
If the token was changed in Settings, use the new address shown there.</p>
</body>
</html>
`
