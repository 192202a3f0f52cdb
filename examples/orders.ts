// Run with: npx coderouter run examples/orders.ts --inputs '{"orders": [{"sku": "a", "qty": 2, "price": 9.5}, {"sku": "b", "qty": 1, "price": 20}]}'
// A workflow "code node": typed, top-level await, and a top-level return as the output.
interface Order {
  sku: string;
  qty: number;
  price: number;
}

const items = inputs.orders as Order[];
await new Promise((resolve) => setTimeout(resolve, 5));
const total = items.reduce((sum, o) => sum + o.qty * o.price, 0);
console.log(`${items.length} orders`);
return { total, skus: items.map((o) => o.sku) };
