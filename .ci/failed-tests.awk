# Reads `bun test` output and prints every failed test with its first error line, so a red run names
# its failures beside the closing count (the full log stays above it).
# Bun prints a failure's error block before its "(fail)" line, and a timeout on the line after it.
function record(name, why) {
  failures[++n] = (file == "" ? "" : file " > ") name "\n      " why
}
function flush_pending(why) {
  if (pending != "") record(pending, why)
  pending = ""
}
{ sub(/\r$/, "") }
# Bun ends with a recap of the failures ("3 tests failed:"), without files or errors: already counted.
/^[0-9]+ tests? failed:$/ { flush_pending("(no error line in the log)"); recap = 1 }
recap { next }
pending != "" && /^ *\^ this test timed out/ { line = $0; sub(/^ *\^ */, "", line); flush_pending(line); next }
pending != "" { flush_pending("(no error line in the log)") }
/^[^ (].*\.(test|spec)\.(ts|tsx|js|mjs):$/ { file = substr($0, 1, length($0) - 1); err = ""; next }
/^\((pass|skip|todo)\) / { err = ""; next }
/^\(fail\) / {
  name = substr($0, 8)
  sub(/ \[[0-9.]+m?s\]$/, "", name)
  if (err != "") record(name, err)
  else pending = name
  err = ""
  next
}
err == "" && (/^error: / || /^[A-Z][A-Za-z]*Error: /) { err = $0 }
END {
  flush_pending("(no error line in the log)")
  if (n == 0) exit
  print ""
  print "failed tests (" n "):"
  for (i = 1; i <= n; i++) print "  " failures[i]
}
