// Recharts line chart of probe latencies; imported lazily (its own chunk).
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { LatencySample } from "../pages/HealthPage";

const COLORS = ["#4f46e5", "#059669", "#d97706", "#dc2626", "#0891b2"];

export default function LatencyChart({ samples, systems }: { samples: LatencySample[]; systems: string[] }) {
  return (
    <div className="h-64 w-full" role="img" aria-label="Latency of each system over the checks made in this session">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={samples} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis
            dataKey="at"
            type="number"
            domain={["dataMin", "dataMax"]}
            tickFormatter={(t: number) => new Date(t).toLocaleTimeString()}
            fontSize={12}
          />
          <YAxis unit=" ms" fontSize={12} width={64} />
          <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleTimeString()} />
          <Legend />
          {systems.map((s, i) => (
            <Line key={s} dataKey={s} stroke={COLORS[i % COLORS.length]} dot={false} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
