import sys, re, subprocess, collections
data = sys.argv[1]
out = subprocess.run(["perf","script","-i",data,"-F","ip,sym,dso"],capture_output=True,text=True).stdout
samples=[]; cur=[]
for line in out.splitlines():
    if not line.strip():
        if cur: samples.append(cur); cur=[]
        continue
    cur.append(line.strip())
if cur: samples.append(cur)
def cls(st):
    leaf = st[0]
    syms = " ".join(st)
    if "[kernel" in leaf or "kallsyms" in leaf:
        if "skb_defer_free_flush" in syms: return "kernel: freeing skbs the clients consumed (skb_defer_free_flush)"
        if "net_rx_action" in syms:
            if "gso_segment" in syms: return "kernel: loopback rx, GSO segmentation"
            return "kernel: loopback rx, UDP delivery into client sockets"
        if "udp_sendmsg" in syms: return "kernel: UDP send path (alloc skb, copy, route, IP, lo xmit)"
        if "io_uring" in syms or "io_submit_sqes" in syms or "io_cqring" in syms: return "kernel: io_uring (submit, wait, CQEs, msghdr copy)"
        return "kernel: other (scheduler, timers, syscalls)"
    l = leaf
    if re.search(r"sha1|Sha1|AesCmKeys::mac|hmac|Hmac|digest", l): return "user: HMAC-SHA1"
    if re.search(r"aes|Aes|apply_keystream|array::.*map|hybrid_array|gcm|ghash|aead", l): return "user: AES (CM keystream / GCM seal)"
    if re.search(r"memmove|memcpy|memset", l): return "user: memcpy"
    if re.search(r"portunus_srtp", l): return "user: SRTP framing (protect_rtp, stream lookup)"
    if re.search(r"portunus_dataplane|portunus_rtp|Sub::rewrite", l): return "user: our forwarding (route, rewrite, TX queue plan)"
    return "user: other (control plane, libc, unresolved)"
c=collections.Counter(cls(s) for s in samples)
n=len(samples)
for k,v in sorted(c.items(), key=lambda x:-x[1]):
    print(f"{100*v/n:5.1f}%  {k}")
print("samples", n)
