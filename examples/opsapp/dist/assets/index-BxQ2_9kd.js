const e=document.getElementById("app");async function t(){const n=await fetch("/healthz");const o=await n.json();e.dataset.version=o.version}t().catch(()=>{e.dataset.version="unknown"});
