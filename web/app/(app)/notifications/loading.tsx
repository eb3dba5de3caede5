import { SegmentLoading } from "@/components/segment";

export default function Loading() {
  return <SegmentLoading />;
}
