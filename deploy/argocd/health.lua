hs = { status = "Progressing", message = "Waiting for the operator" }
if obj.status == nil or obj.status.conditions == nil then return hs end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Paused" and c.status == "True" then return { status = "Suspended", message = c.message } end
end
if obj.status.observedGeneration ~= nil and obj.metadata.generation ~= nil
   and obj.status.observedGeneration < obj.metadata.generation then return hs end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Stalled" and c.status == "True" then return { status = "Degraded", message = c.message } end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" and c.status == "True" then return { status = "Healthy", message = c.message } end
  if c.type == "Ready" then hs.message = c.message end
end
return hs
