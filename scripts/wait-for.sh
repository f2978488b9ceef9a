# Sourced by demo.sh, schemathesis.sh and bench-counts.sh.
# wait_for PORT PATH TRIES: waits until http://127.0.0.1:PORT/PATH answers 200, trying
# every 0.1 s at most TRIES times (bash's /dev/tcp: no curl needed); 1 if it never did.
wait_for() {
  local port=$1 path=$2 tries=$3
  for _ in $(seq 1 "$tries"); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
      if head -n1 <&3 | grep -q ' 200 '; then exec 3<&-; return 0; fi
      exec 3<&-
    fi
    sleep 0.1
  done
  return 1
}

# free_port: a loopback port nothing listens on now (the kernel's pick).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
