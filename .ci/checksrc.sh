#!/usr/bin/env bash
# .ci/checksrc.sh - house rules a compiler does not check (curl's
# scripts/checksrc.pl is the model; STYLE.md "Build and tests" lists them):
#   banned    no strcpy, strcat, sprintf, vsprintf, gets, strtok, atoi,
#             atol, atoll, strncpy, strncat, tmpnam, mktemp anywhere: each
#             has a bounded or checked replacement (sc_strlcpy, sc_cat,
#             snprintf, sc_parse_i64);
#   sc-key    no "sc:... string (a Redis key name) in C outside store/: the
#             key schema has one owner;
#   policy-io no output in policy/: no printf family that writes to a stream
#             or descriptor (printf, fprintf, dprintf, puts, fputs, putchar,
#             perror, fwrite, write...).  snprintf/vsnprintf into a
#             caller's buffer stay allowed: they build the decision's
#             message, they do no I/O.
# Comments are ignored (a word in prose is not a call); string literals are
# ignored except by the sc-key rule.  Usage: checksrc.sh [FILE...] (default:
# every tracked .c and .h).  Prints file:line: rule: text; exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '/node_modules/')
fi

perl -e '
  my $bad = 0;
  my $banned = qr/\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|strncpy|strncat|tmpnam|mktemp)\s*\(/;
  my $out = qr/\b(printf|vprintf|fprintf|vfprintf|dprintf|vdprintf|puts|fputs|putchar|putc|fputc|perror|fwrite|write)\s*\(/;
  for my $f (@ARGV) {
    open(my $fh, "<", $f) or die "checksrc: $f: $!\n";
    my @lines = <$fh>;
    close $fh;
    my $in_comment = 0;
    for my $i (0 .. $#lines) {
      my $line = $lines[$i];
      # Blank comments, keeping strings: /* */ across lines, then //.
      my $code = "";
      my $s = $line;
      while (length $s) {
        if ($in_comment) {
          if ($s =~ s/^.*?\*\///s) { $in_comment = 0; } else { $s = ""; }
        } elsif ($s =~ s/^("(?:[^"\\]|\\.)*")//) { $code .= $1;
        } elsif ($s =~ s/^(\x27(?:[^\x27\\]|\\.)*\x27)//) { $code .= $1;
        } elsif ($s =~ s/^\/\*//) { $in_comment = 1;
        } elsif ($s =~ s/^\/\/.*//s) {
        } else { $s =~ s/^(.[^"\x27\/]*)//s; $code .= $1; }
      }
      (my $nostr = $code) =~ s/"(?:[^"\\]|\\.)*"/""/g;
      my $where = "$f:" . ($i + 1);
      chomp(my $show = $line);
      if ($nostr =~ $banned) { print "$where: banned: $1(): $show\n"; $bad = 1; }
      if ($f !~ m{^(\./)?store/} && $f !~ m{^(\./)?tests/} && $code =~ /"sc:/) {
        print "$where: sc-key: Redis key name outside store/: $show\n"; $bad = 1;
      }
      if ($f =~ m{^(\./)?policy/} && $nostr =~ $out) {
        print "$where: policy-io: $1() in policy/: $show\n"; $bad = 1;
      }
    }
  }
  exit $bad;
' "${files[@]}"
