import subprocess,sys,re,collections
f=sys.argv[1]; reqs=float(sys.argv[2])
out=subprocess.run(['jfr','print','--events','jdk.ThreadAllocationStatistics',f],capture_output=True,text=True).stdout
per=collections.defaultdict(list)
for e in out.split('jdk.ThreadAllocationStatistics')[1:]:
    a=re.search(r'allocated = ([\d.]+) ([kMG]?B)',e); t=re.search(r'thread = "([^"]*)"',e)
    if not a or not t: continue
    v=float(a.group(1))*{'B':1,'kB':1e3,'MB':1e6,'GB':1e9}[a.group(2)]
    per[t.group(1)].append(v)
total=sum(max(v)-min(v) for v in per.values())
print(f"allocated {total/1e6:.0f} MB in the recording = {total/reqs/1e3:.1f} KB per request")
