import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // The Docker image copies .next/standalone: a self-contained server without node_modules.
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
  turbopack: {
    rules: {
      "*.css": {
        loaders: ["@tailwindcss/turbopack"],
        as: "*.css",
      },
    },
  },
};

export default nextConfig;
