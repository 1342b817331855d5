package appsetup

import "html/template"

const style = `<style>
body { font: 15px/1.5 sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #1f2328; }
label { display: block; margin: 1em 0 .2em; font-weight: bold; }
input[type=text] { width: 100%; padding: 6px; font: inherit; box-sizing: border-box; }
button { margin-top: 1.2em; padding: 8px 16px; font: inherit; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; }
.muted { color: #656d76; }
.bad { color: #cf222e; }
</style>`

var startPage = template.Must(template.New("start").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitops-bot setup</title>` + style + `</head><body>
<h1>Create the gitops-bot GitHub App</h1>
<p>No GitHub App is configured on this server yet. This page creates one on {{.GitHub}} from
the bot's manifest (its events and permissions) and hands back its ID, private key and
webhook secret.</p>
<form method="post" action="/setup/manifest">
<label for="url">This server's public address</label>
<input type="text" id="url" name="url" value="{{.URL}}">
{{if .Unreachable}}<p class="bad" id="unreachable">Unreachable from GitHub.com: {{.Unreachable}}. This page guessed the address from
the one you opened it on, which may be a port-forward. Enter the address GitHub reaches this server on (an
Ingress, a load balancer, a tunnel); only a GitHub Enterprise Server on the same network reaches it as it is.</p>{{end}}
<div class="muted">GitHub sends the webhooks to this address + <code>/api/github/hook</code>: it must be reachable from GitHub.
After GitHub creates the App, your browser comes back to the address you opened this page on.</div>
<label for="org">Organization (optional)</label>
<input type="text" id="org" name="org" value="">
<div class="muted">Empty: the App belongs to your own account.</div>
<label for="name">App name (optional)</label>
<input type="text" id="name" name="name" value="">
<div class="muted">Empty: gitops-bot. App names are unique on GitHub; GitHub lets you change it on the next page.</div>
<button type="submit">Continue</button>
</form>
</body></html>`))

var postPage = template.Must(template.New("post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitops-bot setup</title>` + style + `</head><body>
<h1>Create the App on GitHub</h1>
<p>GitHub will create the App{{if .Org}} in the organization <b>{{.Org}}</b>{{end}} with webhooks sent to
<code>{{.Hook}}</code>, then send you back here.</p>
{{if .Unreachable}}<p class="bad" id="unreachable">Unreachable from GitHub.com: {{.Unreachable}}, so no webhook
would arrive. <a href="/setup">Go back</a> and enter the address GitHub reaches this server on, unless a GitHub
Enterprise Server on the same network is to send them.</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Create the App on GitHub</button>
</form>
<h2>The manifest</h2>
<pre>{{.Manifest}}</pre>
</body></html>`))

var donePage = template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitops-bot setup: done</title>` + style + `</head><body>
<h1>The GitHub App {{.Name}} exists</h1>
<p>App ID <b>{{.ID}}</b> · <a href="{{.HTMLURL}}">{{.HTMLURL}}</a></p>
<p>This page shows its private key and webhook secret once: store them now.
{{if .Saved}}They are also saved in <code>{{.Saved}}</code> (readable by the bot's user only): start the
bot with <code>gitops-bot serve --config {{.Saved}}</code>, or move them into a Secret and delete the file.{{end}}
{{if .SaveError}}<span class="bad">They could not be saved on the server ({{.SaveError}}): copy them from this page.</span>{{end}}</p>
<h2>1. Store them</h2>
<p>In Kubernetes, as the Secret that <code>deploy/base</code> and the chart's <code>existingSecret</code> read
(save as <code>gitops-bot-secret.yaml</code>, then <code>kubectl -n gitops-bot apply -f gitops-bot-secret.yaml</code>):</p>
<pre>{{.Secret}}</pre>
<p>Then restart the bot (<code>kubectl -n gitops-bot rollout restart deployment/gitops-bot</code>); with Helm:
<code>helm upgrade gitops-bot deploy/chart/gitops-bot -n gitops-bot --reuse-values --set existingSecret=gitops-bot</code>.</p>
<p>Elsewhere, as the environment of <code>gitops-bot serve</code>:</p>
<pre>{{.Env}}</pre>
<h2>2. Install it</h2>
<p><a href="{{.Install}}">Install the App</a> on the repositories the bot is to work in.</p>
</body></html>`))

var failPage = template.Must(template.New("fail").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitops-bot setup</title>` + style + `</head><body>
<h1>Setup</h1>
<p class="bad">{{.Message}}</p>
<p><a href="/setup">Start again</a></p>
</body></html>`))
