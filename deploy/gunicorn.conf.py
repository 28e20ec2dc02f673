# gunicorn settings for Ferry's web process (deploy/ferry-web.service passes this file
# with --config; so can any other way of starting gunicorn).
#
# The access log names the path without its query string (%(U)s, not %(r)s) and leaves
# out the Referer: Xero's sign-in comes back as /settings/xero/callback?code=…&state=…,
# and that code must not land in the journal. Searches typed into the pages stay out of
# it too.
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)sms'
