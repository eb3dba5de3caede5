export default function Home() {
  return <main className="p-8 text-lg">IT 서비스 데스크</main>;
}
