"""Exim configurations: the cPanel-like hosting server and the remote MX with canned answers."""

from __future__ import annotations

from pathlib import Path

from . import topology as t

# Close to cPanel's selectors (+arguments gives the cwd=... lines of local submissions).
LOG_SELECTOR = (
    "+address_rewrite +all_parents +arguments +connection_reject +delay_delivery +delivery_size"
    " +dnslist_defer +incoming_interface +incoming_port +lost_incoming_connection +queue_run"
    " +received_sender +received_recipients +retry_defer +sender_on_delivery +size_reject"
    " +skip_delivery +smtp_confirmation +smtp_connection +smtp_protocol_error +smtp_syntax_error"
    " +subject +tls_cipher +tls_peerdn +tls_sni +pid +outgoing_port +queue_time +deliver_time"
    " +return_path_on_delivery +sender_verify_fail +smtp_incomplete_transaction +8bitmime"
)

LOCAL_CONF = r"""# cPanel-like Exim configuration of the maildoctor lab (host.lab-hosting.test).
primary_hostname = @HOSTNAME@
qualify_domain = @HOSTNAME@
domainlist local_domains = @ : localhost : lsearch;/etc/localdomains
domainlist virtual_domains = dsearch;/etc/valiases
hostlist relay_hosts = <; 127.0.0.1 ; @LOCAL_IP@
local_interfaces = <; 127.0.0.1.25 ; 127.0.0.1.587 ; @LOCAL_IP@.25 ; @LOCAL_IP@.465 ; @LOCAL_IP@.587
daemon_smtp_ports = 25 : 465 : 587
tls_on_connect_ports = 465
tls_advertise_hosts = *
tls_certificate = /etc/exim.crt
tls_privatekey = /etc/exim.key
auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}

spool_directory = /var/spool/exim
split_spool_directory = true
log_file_path = /var/log/exim_%slog
pid_file_path = /var/spool/exim/exim-daemon.pid
log_selector = @LOG_SELECTOR@
syslog_duplication = false
keep_environment =

exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
trusted_users = Debian-exim
untrusted_set_sender = *
local_from_check = false
host_lookup = *
rfc1413_hosts =
rfc1413_query_timeout = 0s
smtp_banner = "${primary_hostname} ESMTP Exim ${version_number} \#${compile_number} ${tod_full} \n\
  We do not authorize the use of this system to transport unsolicited, \n\
  and/or bulk e-mail."
message_size_limit = 50M
ignore_bounce_errors_after = 2d
timeout_frozen_after = 7d
queue_run_max = 5
remote_max_parallel = 4
# Short so that delay warnings happen during a lab run (cPanel: 24h).
delay_warning = 15s : 24h
bounce_return_size_limit = 100K

acl_smtp_connect = acl_connect
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl

acl_connect:
  accept

acl_mail:
  accept

acl_rcpt:
  accept  hosts = :
  deny    message = Restricted characters in address
          local_parts = ^[.] : ^.*[@%!/|]
  accept  authenticated = *
          control = submission/sender_retain
  accept  hosts = +relay_hosts
  # SPF for outside clients (libspf2 passes every loopback client anyway).
  deny    spf = fail
          message = 550 5.7.23 SPF: $sender_host_address is not allowed to send mail from $sender_address_domain
          log_message = SPF check failed: $spf_header_comment
  defer   spf = temperror
          message = 451 4.4.3 Temporary DNS error while checking SPF for $sender_address_domain
          log_message = SPF temperror: $spf_header_comment
  warn    spf = softfail
          log_message = SPF softfail for $sender_address_domain: $spf_header_comment
  warn    spf = permerror
          log_message = SPF permerror for $sender_address_domain: $spf_header_comment
  warn    spf = pass : neutral : none : softfail : permerror
          add_header = $spf_received
  require message = relay not permitted
          domains = +local_domains
  require verify = recipient
  require verify = sender
  accept

acl_data:
  accept

begin routers

# Mail for other domains goes out by MX.
dnslookup:
  driver = dnslookup
  domains = ! +local_domains
  transport = remote_smtp
  ignore_target_hosts = 0.0.0.0 : 127.0.0.0/8
  no_more

# /etc/valiases/<domain> entries for the exact address (forwarders, pipes, :fail:).
virtual_aliases_nostar:
  driver = redirect
  domains = +virtual_domains
  data = ${lookup{$local_part@$domain}lsearch{/etc/valiases/$domain_data}}
  allow_fail
  allow_defer
  pipe_transport = virtual_address_pipe
  retry_use_local_part
  user = ${lookup{$domain_data}lsearch{/etc/userdomains}}
  group = ${lookup{$domain_data}lsearch{/etc/userdomains}}

# Email accounts: /home/<owner>/mail/<domain>/<mailbox>/
virtual_user:
  driver = accept
  domains = +virtual_domains
  local_parts = dsearch;/home/${lookup{$domain_data}lsearch{/etc/userdomains}}/mail/$domain_data
  transport = virtual_userdelivery

# The default address ("*:" line of /etc/valiases/<domain>).
virtual_aliases:
  driver = redirect
  domains = +virtual_domains
  data = ${lookup{*}lsearch{/etc/valiases/$domain_data}}
  allow_fail
  allow_defer
  pipe_transport = virtual_address_pipe
  retry_use_local_part
  user = ${lookup{$domain_data}lsearch{/etc/userdomains}}
  group = ${lookup{$domain_data}lsearch{/etc/userdomains}}

system_aliases:
  driver = redirect
  domains = @ : localhost
  allow_fail
  allow_defer
  data = ${lookup{$local_part}lsearch{/etc/aliases}}

# System accounts: the cPanel user's main mailbox /home/<user>/mail/
localuser:
  driver = accept
  domains = @ : localhost
  check_local_user
  transport = local_delivery

begin transports

remote_smtp:
  driver = smtp
  interface = @LOCAL_IP@
  helo_data = @HOSTNAME@

local_delivery:
  driver = appendfile
  directory = $home/mail
  maildir_format
  delivery_date_add
  envelope_to_add
  return_path_add
  mode = 0660

virtual_userdelivery:
  driver = appendfile
  directory = /home/${lookup{$domain_data}lsearch{/etc/userdomains}}/mail/$domain_data/$local_part_data
  maildir_format
  user = ${lookup{$domain_data}lsearch{/etc/userdomains}}
  group = ${lookup{$domain_data}lsearch{/etc/userdomains}}
  delivery_date_add
  envelope_to_add
  return_path_add
  mode = 0660
  # cPanel keeps per-mailbox quotas in /home/<user>/etc/<domain>/quota ("mailbox:bytes", 0 = none).
  quota = ${lookup{$local_part_data}lsearch\
    {/home/${lookup{$domain_data}lsearch{/etc/userdomains}}/etc/$domain_data/quota}{$value}{0}}
  maildir_use_size_file
  quota_is_inclusive = true

# cPanel returns a pipe's output to the sender: any output fails the delivery.
virtual_address_pipe:
  driver = pipe
  return_output
  log_output

address_pipe:
  driver = pipe
  return_output

begin retry
# dead.test: a short cutoff so that a retry-timeout bounce happens within a lab run.
mx.dead.test    *   F,20s,5s
dead.test       *   F,20s,5s
*               *   F,2h,15s; G,16h,1h,1.5; F,4d,6h

begin rewrite

begin authenticators

# cPanel names (its authenticators are Dovecot's); here plaintext drivers checking a crypt file.
dovecot_plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if crypteq{$auth3}{${lookup{$auth2}lsearch{/etc/exim_smtp_passwd}{$value}{*}}}}
  server_set_id = $auth2

dovecot_login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${if crypteq{$auth2}{${lookup{$auth1}lsearch{/etc/exim_smtp_passwd}{$value}{*}}}}
  server_set_id = $auth1
"""

REMOTE_CONF = r"""# A remote MX with canned answers (mx.remote.test and, on a second address, mx.busy.test).
primary_hostname = @REMOTE_MX_HOST@
qualify_domain = remote.test
domainlist local_domains = remote.test : busy.test : spf-pass.test : spf-fail.test : spf-softfail.test : \
  spf-neutral.test : spf-permerror.test : spf-temperror.test
local_interfaces = @REMOTE_MX_IP@ : @BUSY_MX_IP@
daemon_smtp_ports = 25
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
pid_file_path = @DIR@/exim.pid
log_selector = +smtp_connection +incoming_interface +subject +received_recipients
keep_environment =
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
host_lookup = *
rfc1413_hosts =
tls_advertise_hosts =
smtp_banner = ${if eq{$received_ip_address}{@BUSY_MX_IP@}{@BUSY_MX_HOST@}{$primary_hostname}} ESMTP ready
acl_smtp_connect = acl_connect
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl

acl_connect:
  defer   condition = ${if eq{$received_ip_address}{@BUSY_MX_IP@}}
          message = 421 4.7.0 @BUSY_MX_HOST@ Too many concurrent SMTP connections from this IP address; \
            please try again later
  accept

acl_rcpt:
  require message = 550 5.7.1 Relaying denied
          domains = +local_domains
  deny    local_parts = ^nouser.* : ^unknown.*
          message = 550 5.1.1 <$local_part@$domain>: Recipient address rejected: User unknown in virtual mailbox table
  deny    local_parts = disabled
          message = 550 5.2.1 The email account that you tried to reach is disabled
  defer   local_parts = full
          message = 452 4.2.2 The email account that you tried to reach is over quota
  defer   local_parts = greylist
          message = 451 4.7.1 Greylisted, please try again later
  # "later": greylisted once, accepted on the retry.
  warn    local_parts = later
          condition = ${if exists{@DIR@/spool/greylist-seen}{no}{yes}}
          set acl_m_grey = yes
          set acl_m_seen = ${run{/usr/bin/touch @DIR@/spool/greylist-seen}{ok}{failed}}
  defer   condition = ${if eq{$acl_m_grey}{yes}}
          message = 451 4.7.1 Greylisted, please try again later
  accept

acl_data:
  deny    condition = ${if match{$h_subject:}{(?i)winner|casino|free money}}
          message = 554 5.7.1 Message rejected as spam (score 14.2 > 5.0)
  accept

begin routers

mailbox:
  driver = accept
  domains = +local_domains
  transport = maildir

begin transports

maildir:
  driver = appendfile
  directory = @DIR@/maildir
  maildir_format
  delivery_date_add
  envelope_to_add
  return_path_add
  user = Debian-exim

begin retry
*   *   F,2h,15s
"""


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


def render_local_exim_conf() -> str:
    return _fill(
        LOCAL_CONF,
        {"HOSTNAME": t.HOSTNAME, "LOCAL_IP": t.LOCAL_IP, "LOG_SELECTOR": LOG_SELECTOR},
    )


def render_remote_exim_conf(directory: Path) -> str:
    return _fill(
        REMOTE_CONF,
        {
            "REMOTE_MX_HOST": t.REMOTE_MX_HOST,
            "REMOTE_MX_IP": t.REMOTE_MX_IP,
            "BUSY_MX_IP": t.BUSY_MX_IP,
            "BUSY_MX_HOST": t.BUSY_MX_HOST,
            "DIR": str(directory),
        },
    )
